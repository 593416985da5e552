import pytest

from tests.conftest import SECRET, create_site, migrate, occupants_client


@pytest.fixture
def occupants(tmp_path, monkeypatch):
    """The occupants API on a fresh SQLite database (the embedded default's backend)."""
    url = f"sqlite:///{tmp_path}/occupants.sqlite3"
    migrate("occupants", url)
    monkeypatch.setenv("OCCUPANTS_DATABASE_URL", url)
    monkeypatch.setenv("AUTH_JWT_SECRET", SECRET)
    monkeypatch.setenv("PSP_VAR_DIR", str(tmp_path))
    with occupants_client() as client:
        yield client


@pytest.fixture
def site(occupants):
    return create_site(occupants)
