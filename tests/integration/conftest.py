import pytest
from sqlalchemy import create_engine, text

from tests.conftest import create_site, occupants_client

pytestmark = pytest.mark.integration


@pytest.fixture
def occupants_api(platform_env):
    with occupants_client() as client:
        yield client


@pytest.fixture
def demo_site(occupants_api):
    return create_site(occupants_api)["id"]


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

