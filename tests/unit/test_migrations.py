"""Each service's migration history builds exactly the schema its models declare."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from services import NAMES
from shared.service import load
from tests.conftest import migrate


@pytest.mark.parametrize("name", NAMES)
def test_migrations_match_the_models(tmp_path, name):
    url = f"sqlite:///{tmp_path}/{name}.sqlite3"
    migrate(name, url)
    engine = create_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, load(name).metadata)
    engine.dispose()
    assert differences == []
