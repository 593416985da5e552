import pytest

from tests.conftest import SECRET, migrate


@pytest.fixture
def access(tmp_path, monkeypatch):
    """The access API on a fresh SQLite database (the embedded default's backend)."""
    from services.access.app import create_app

    url = f"sqlite:///{tmp_path}/access.sqlite3"
    migrate("access", url)
    monkeypatch.setenv("ACCESS_DATABASE_URL", url)
    monkeypatch.setenv("AUTH_JWT_SECRET", SECRET)
    monkeypatch.setenv("PSP_VAR_DIR", str(tmp_path))
    app = create_app()
    try:
        yield app.test_client()
    finally:
        app.extensions["psp"].engine.dispose()
