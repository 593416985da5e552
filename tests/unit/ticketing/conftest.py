import pytest

from tests.conftest import SECRET, migrate


@pytest.fixture
def ticketing(tmp_path, monkeypatch):
    """The ticketing API on a fresh SQLite database (the embedded default's backend)."""
    from services.ticketing.app import create_app

    url = f"sqlite:///{tmp_path}/ticketing.sqlite3"
    migrate("ticketing", url)
    monkeypatch.setenv("TICKETING_DATABASE_URL", url)
    monkeypatch.setenv("AUTH_JWT_SECRET", SECRET)
    monkeypatch.setenv("PSP_VAR_DIR", str(tmp_path))
    app = create_app()
    try:
        yield app.test_client()
    finally:
        app.extensions["psp"].engine.dispose()
