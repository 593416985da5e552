"""Alembic, one migration history per service, run by `python -m shared.cli migrate <service>`."""

from __future__ import annotations

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData

from shared import db


def alembic_config(service, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(service.migrations))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["service"] = service
    return config


def upgrade(service, url: str, revision: str = "heads") -> None:
    command.upgrade(alembic_config(service, url), revision)


def new_revision(service, url: str, message: str) -> None:
    """Autogenerate a migration from the difference between the models and a migrated database."""
    upgrade(service, url)
    command.revision(alembic_config(service, url), message=message, autogenerate=True)


def run_env(metadata: MetaData) -> None:
    """The body of every service's migrations/env.py."""
    engine = db.make_engine(context.config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
