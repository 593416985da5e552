"""The secrets of registered systems encrypted at rest, on SQLite and PostgreSQL: what the database holds is a
Fernet token, not the secret; the system still signs and logs in with it; a key rotation re-encrypts every row
so the old key can go, and a key no longer listed decrypts nothing; the migration encrypts what was registered before it; the embedded default keeps its
key under var/."""

from __future__ import annotations

import stat
import uuid
from datetime import datetime, timezone

import pytest
from cryptography.fernet import Fernet, InvalidToken
from alembic import command
from sqlalchemy import MetaData, Table, create_engine, insert, select, text
from sqlalchemy.orm import Session

from services.access.service import SERVICE
from services.access.systems import sealed
from services.access.systems.tables import AccessSystem
from shared import migrations
from tests.conftest import ORG_A
from tests.support.tickets import staff
from tests.unit.access.support import a_site, ok, sessions_of

OLD_KEY, NEW_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()
PASSWORD = "device-pass-Ω-1"
BEFORE_ENCRYPTION = "d5f7a9c1e3b4"


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path, monkeypatch):
    """A migrated access database on either backend, encrypting under OLD_KEY."""
    monkeypatch.setenv(sealed.KEYS_VARIABLE, OLD_KEY)
    url = (f"sqlite:///{tmp_path}/access.sqlite3" if request.param == "sqlite"
           else request.getfixturevalue("pg_database")("access"))
    engine = create_engine(url)
    yield url, engine
    engine.dispose()


def stored_secrets(engine) -> dict[str, str]:
    with engine.connect() as connection:
        return dict(connection.execute(text("SELECT id, secret FROM access_systems")).all())


def hikvision_row(secret: str) -> dict:
    now = datetime.now(timezone.utc)
    return {"id": str(uuid.uuid4()), "organization_id": ORG_A, "site_id": str(uuid.uuid4()), "name": "Gate",
            "adapter": "hikvision", "base_url": "http://10.0.0.8", "secret": secret, "username": "admin",
            "time_zone": "Asia/Shanghai", "state": "active", "disabled_reason": "", "last_event_serial": 0,
            "created_by": "test", "created_at": now, "updated_at": now}


def test_a_registered_secret_is_stored_encrypted_and_read_back_in_clear(access, monkeypatch):
    monkeypatch.setenv(sealed.KEYS_VARIABLE, OLD_KEY)
    site = a_site(access)
    system = ok(access.post("/v1/access-systems", headers=staff("sm-zhou", roles=("site_manager",)), json={
        "site_id": site["site_id"], "name": "Lobby", "adapter": "webhook", "base_url": "http://127.0.0.1:9/hooks",
        "doors": [{"door_id": site["front"], "system_door_id": "front-1"}]}), 201)
    stored = stored_secrets(access.application.extensions["psp"].engine)[system["id"]]
    assert system["secret"].startswith("whsec_")
    assert system["secret"] not in stored and system["secret"][6:] not in stored
    assert Fernet(OLD_KEY).decrypt(stored.encode()).decode() == system["secret"]
    with sessions_of(access)() as session:
        assert session.get(AccessSystem, system["id"]).secret == system["secret"]


def test_a_key_rotation_encrypts_every_secret_again_so_the_old_key_can_go(database, monkeypatch, capsys):
    url, engine = database
    migrations.upgrade(SERVICE, url)
    with Session(engine) as session, session.begin():
        session.add(AccessSystem(**hikvision_row(PASSWORD)))
    monkeypatch.setenv(sealed.KEYS_VARIABLE, f"{NEW_KEY},{OLD_KEY}")
    monkeypatch.setenv("ACCESS_DATABASE_URL", url)
    assert sealed.main(["rotate"]) == 0
    assert "1 secrets encrypted under the first key" in capsys.readouterr().out
    [stored] = stored_secrets(engine).values()
    with pytest.raises(InvalidToken):
        Fernet(OLD_KEY).decrypt(stored.encode())
    monkeypatch.setenv(sealed.KEYS_VARIABLE, NEW_KEY)
    with Session(engine) as session:
        assert session.scalar(select(AccessSystem.secret)) == PASSWORD


def test_a_secret_under_a_key_no_longer_listed_does_not_decrypt(database, monkeypatch):
    url, engine = database
    migrations.upgrade(SERVICE, url)
    with Session(engine) as session, session.begin():
        session.add(AccessSystem(**hikvision_row(PASSWORD)))
    monkeypatch.setenv(sealed.KEYS_VARIABLE, NEW_KEY)
    with Session(engine) as session, pytest.raises(sealed.UndecryptableSecret):
        session.scalar(select(AccessSystem.secret))


def test_the_migration_encrypts_the_secrets_registered_before_it_and_its_downgrade_restores_them(database):
    url, engine = database
    migrations.upgrade(SERVICE, url, BEFORE_ENCRYPTION)
    as_it_was = Table("access_systems", MetaData(), autoload_with=engine)
    with engine.begin() as connection:
        connection.execute(insert(as_it_was).values(hikvision_row(PASSWORD)))
    migrations.upgrade(SERVICE, url)
    [stored] = stored_secrets(engine).values()
    assert PASSWORD not in stored
    assert Fernet(OLD_KEY).decrypt(stored.encode()).decode() == PASSWORD
    with Session(engine) as session:
        assert session.scalar(select(AccessSystem.secret)) == PASSWORD
    command.downgrade(migrations.alembic_config(SERVICE, url), BEFORE_ENCRYPTION)
    assert list(stored_secrets(engine).values()) == [PASSWORD]


def test_with_no_key_set_the_embedded_default_makes_one_and_keeps_it_under_var(tmp_path, monkeypatch):
    monkeypatch.delenv(sealed.KEYS_VARIABLE, raising=False)
    monkeypatch.setenv("PSP_VAR_DIR", str(tmp_path))
    token = sealed.seal(PASSWORD)
    kept = tmp_path / sealed.KEY_FILE
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert Fernet(kept.read_text().strip()).decrypt(token.encode()).decode() == PASSWORD
    assert [path.name for path in tmp_path.iterdir()] == [sealed.KEY_FILE]
    assert sealed.keys_in_force() == kept.read_text().strip()
