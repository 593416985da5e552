"""The secrets of registered systems (webhook signing secrets, Hikvision passwords) encrypted at rest.

The platform must use them in clear to sign and to log in, so they are encrypted rather than hashed: Fernet
(AES-128-CBC and HMAC-SHA256, from `cryptography`) under the keys in ACCESS_SYSTEM_SECRET_KEYS, comma-separated.
The first key encrypts; every key listed decrypts (MultiFernet). To rotate: put a new key first, run
`python -m services.access.systems.sealed rotate` (every row encrypted again under it), then drop the old one.

With no key set (the embedded default), one key is made on first use and kept in
$PSP_VAR_DIR/access-system-secrets.key, so the processes of one `make run` share it across restarts.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Connection, String, column, select, table, update
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from shared import db
from shared.config import Settings

KEYS_VARIABLE = "ACCESS_SYSTEM_SECRET_KEYS"
KEY_FILE = "access-system-secrets.key"
# The rows as stored, ciphertext and all: what rotation and the migration work on.
_stored = table("access_systems", column("id"), column("secret"))


class UndecryptableSecret(RuntimeError):
    """A stored secret that none of the keys in force decrypts: the process runs with other keys than the
    ones that encrypted it (another ACCESS_SYSTEM_SECRET_KEYS, or another PSP_VAR_DIR's kept key)."""


def keyring() -> MultiFernet:
    """The keys in force, read again only when the settings change."""
    return _keyring(os.environ.get(KEYS_VARIABLE, ""), os.environ.get("PSP_VAR_DIR", "var"))


def keys_in_force() -> str:
    """The keys as ACCESS_SYSTEM_SECRET_KEYS spells them, the embedded default's kept key if it is unset: what
    a process started with another PSP_VAR_DIR is handed so that it reads the same secrets."""
    return os.environ.get(KEYS_VARIABLE, "").strip() or _kept_key(Path(os.environ.get("PSP_VAR_DIR", "var")))


@functools.cache
def _keyring(keys: str, var_dir: str) -> MultiFernet:
    listed = [key.strip() for key in keys.split(",") if key.strip()]
    return MultiFernet([Fernet(key) for key in listed or [_kept_key(Path(var_dir))]])


def _kept_key(var_dir: Path) -> str:
    """The embedded default's key. Two processes starting at once keep one key: each writes its own aside and
    links it into place, which succeeds for one only."""
    path = var_dir / KEY_FILE
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        draft = var_dir / f"{KEY_FILE}.{os.getpid()}"
        draft.touch(mode=0o600)  # readable by no one else before the key is in it
        draft.write_text(Fernet.generate_key().decode())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def seal(secret: str) -> str:
    return keyring().encrypt(secret.encode()).decode("ascii")


def unseal(token: str) -> str:
    try:
        return keyring().decrypt(token.encode("ascii")).decode()
    except InvalidToken:
        raise UndecryptableSecret(f"A door system's secret does not decrypt under the keys in force: is "
                                  f"{KEYS_VARIABLE} the one it was encrypted with?") from None


class SealedString(TypeDecorator):
    """A string column stored encrypted: the model reads and writes it in clear, the database holds a Fernet
    token (a 200-character secret becomes 356)."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else seal(value)

    def process_result_value(self, value, dialect):
        return None if value is None else unseal(value)


def seal_all(connection: Connection | Session) -> int:
    """Encrypt every secret still stored in clear (the migration to encrypted secrets)."""
    return _rewrite(connection, seal)


def unseal_all(connection: Connection | Session) -> int:
    """Store every secret in clear again (that migration undone)."""
    return _rewrite(connection, unseal)


def rotate(connection: Connection | Session) -> int:
    """Encrypt every stored secret again under the first key, so the keys after it can be dropped."""
    return _rewrite(connection, lambda token: keyring().rotate(token.encode("ascii")).decode("ascii"))


def _rewrite(connection: Connection | Session, change: Callable[[str], str]) -> int:
    rows = connection.execute(select(_stored.c.id, _stored.c.secret)).all()
    for row in rows:
        connection.execute(update(_stored).where(_stored.c.id == row.id).values(secret=change(row.secret)))
    return len(rows)


def main(argv: list[str]) -> int:
    if argv != ["rotate"]:
        print(f"usage: python -m {__spec__.name} rotate", file=sys.stderr)
        return 2
    engine = db.make_engine(Settings().database_url_for("access"))
    with db.make_sessionmaker(engine)() as session, session.begin():
        print(f"{rotate(session)} secrets encrypted under the first key", flush=True)
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
