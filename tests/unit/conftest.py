import pytest

from services.occupants.app import create_app
from tests.conftest import SECRET, bearer, migrate


@pytest.fixture
def occupants(tmp_path, monkeypatch):
    """The occupants API on a fresh SQLite database (the embedded default's backend)."""
    url = f"sqlite:///{tmp_path}/occupants.sqlite3"
    migrate("occupants", url)
    monkeypatch.setenv("OCCUPANTS_DATABASE_URL", url)
    monkeypatch.setenv("AUTH_JWT_SECRET", SECRET)
    monkeypatch.setenv("PSP_VAR_DIR", str(tmp_path))
    app = create_app()
    yield app.test_client()
    app.extensions["psp"].engine.dispose()


@pytest.fixture
def site(occupants):
    response = occupants.post("/v1/sites", json={"code": "HG", "name": "Harbour Gardens"}, headers=bearer())
    assert response.status_code == 201, response.get_json()
    return response.get_json()
