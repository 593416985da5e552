"""On PostgreSQL a large batch goes in with COPY: the same rows, values and order as the JSON statement gives
a small one."""

import pytest
from psp.occupants.v1.events_pb2 import PersonRegistered
from sqlalchemy import select

from shared import db
from shared.bulk import COPY_FROM_ROWS
from shared.bus.envelope import Envelope, unpack
from shared.bus.outbox import record_many
from shared.service import load
from tests.conftest import ORG_A

pytestmark = pytest.mark.integration


def test_a_large_batch_lands_as_a_small_one_does(platform_env):
    outbox = load("occupants").tables.outbox
    engine = db.make_engine(platform_env["occupants"])
    large = [PersonRegistered(person_id=f"p{i}", full_name="王芳") for i in range(COPY_FROM_ROWS + 5)]
    small = [PersonRegistered(person_id=f"q{i}", full_name="Emma") for i in range(3)]
    with db.make_sessionmaker(engine)() as session, session.begin():
        written = record_many(session, outbox, large, organization_id=ORG_A)
        written += record_many(session, outbox, small, organization_id=ORG_A)
    with engine.connect() as connection:
        rows = connection.execute(select(outbox).order_by(outbox.c.id)).all()
    engine.dispose()
    assert [row.event_id for row in rows] == written
    people = [unpack(Envelope.FromString(row.envelope), PersonRegistered).payload for row in rows]
    assert [(p.person_id, p.full_name) for p in people] == [(p.person_id, p.full_name) for p in large + small]
    by_copy, by_json = rows[0], rows[-1]
    assert (by_copy.event_type, by_copy.attempts, by_copy.published_at) == (by_json.event_type, 0, None)
    assert type(by_copy.trace_headers) is type(by_json.trace_headers) is dict
    assert by_copy.created_at.tzinfo is not None and by_copy.created_at.utcoffset() == by_json.created_at.utcoffset()
