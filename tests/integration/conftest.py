import pytest
from sqlalchemy import create_engine, text

from services.occupants.app import create_app
from tests.conftest import bearer

pytestmark = pytest.mark.integration


@pytest.fixture
def occupants_api(platform_env):
    app = create_app()
    yield app.test_client()
    app.extensions["psp"].engine.dispose()


@pytest.fixture
def demo_site(occupants_api):
    response = occupants_api.post("/v1/sites", json={"code": "HG", "name": "Harbour Gardens"}, headers=bearer())
    assert response.status_code == 201
    return response.get_json()["id"]


class Database:
    """Read a service's database directly, as a test's eyes."""

    def __init__(self, url: str):
        self.engine = create_engine(url, pool_pre_ping=True)

    def scalar(self, sql: str, **params):
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).scalar()

    def count(self, table: str) -> int:
        return self.scalar(f"SELECT count(*) FROM {table}")


@pytest.fixture
def databases(platform_env):
    opened = {name: Database(url) for name, url in platform_env.items()}
    yield opened
    for database in opened.values():
        database.engine.dispose()

