"""Engines and sessions: PostgreSQL in production, SQLite for the embedded default."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Engine, MetaData, create_engine, event, make_url, text
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.orm import sessionmaker

# Stable constraint names, so Alembic migrations can drop and alter them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    """A service's own metadata; its declarative base uses it and the chassis adds its tables to it."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def make_engine(url: str, pre_ping: bool = True) -> Engine:
    """`pre_ping` tests a pooled connection that has been idle before use (see `_ping_when_idle`), so a
    request after a database restart does not fail on a stale connection. Workers go without: they retry a
    failed batch anyway, and SQLAlchemy drops the whole pool at the first disconnect it sees."""
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        _make_sqlite_transactional(engine)
        return engine
    engine = create_engine(url, pool_size=5, max_overflow=10, pool_recycle=1800)
    if pre_ping:
        _ping_when_idle(engine)
    return engine


# A connection back in use within this many seconds of its last use is taken as alive (HikariCP's
# aliveBypassWindowMs): a dead server would have failed that use, and the pool was dropped then.
ALIVE_BYPASS_SECONDS = 0.5


def _ping_when_idle(engine: Engine) -> None:
    """Ping a connection before use only when it has been idle; a busy API saves a round trip a request."""

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _last_used(_dbapi_connection, record):
        record.info["last_used"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _alive(dbapi_connection, record, _proxy):
        if time.monotonic() - record.info.get("last_used", 0.0) < ALIVE_BYPASS_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"pooled connection is dead: {exc}") from exc  # the pool reconnects


def _make_sqlite_transactional(engine: Engine) -> None:
    """pysqlite defers BEGIN and breaks SAVEPOINT; take the write lock up front instead.

    The API process and the worker write the same file, so WAL lets readers go on while one writes, and
    BEGIN IMMEDIATE makes a second writer wait (busy timeout) rather than fail half-way.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


def make_read_engine(url: str) -> Engine | None:
    """An engine for views that only read: its connections run each statement outside a transaction
    (autocommit), so a query alone costs one round trip instead of BEGIN, the query and COMMIT. That reads
    what a transaction would, since under READ COMMITTED each statement takes its own snapshot anyway, and the
    server refuses any write on these connections (default_transaction_read_only), so nothing can be written
    without the atomicity of a transaction. A pool of its own, so no checkout switches a connection's mode.
    None on SQLite, whose transactions cost no round trip."""
    if url.startswith("sqlite"):
        return None
    engine = create_engine(url, pool_size=5, max_overflow=10, pool_recycle=1800, isolation_level="AUTOCOMMIT",
                           connect_args={"options": "-c default_transaction_read_only=on"})
    _ping_when_idle(engine)
    return engine


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def ping(engine: Engine) -> None:
    """Raises if the database cannot answer a trivial query."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def is_unreachable(exc: BaseException) -> bool:
    """The database could not be reached (as opposed to refusing a statement): wait and try again."""
    return isinstance(exc, (OperationalError, InterfaceError)) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )
