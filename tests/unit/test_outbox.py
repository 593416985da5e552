"""Outbox rows live and die with the transaction that records them."""

from psp.occupants.v1.events_pb2 import PersonRegistered
from sqlalchemy import select

from services.occupants.models import Base, chassis
from shared import db
from shared.bus.outbox import record


def test_a_transactions_events_are_kept_in_order_and_a_rolled_back_savepoint_takes_its_own(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'occupants.db'}")
    Base.metadata.create_all(engine)
    sessions = db.make_sessionmaker(engine)
    with sessions() as session, session.begin():
        kept = [record(session, chassis.outbox, PersonRegistered(person_id=f"p{i}"), organization_id="org")
                for i in range(3)]
        savepoint = session.begin_nested()
        record(session, chassis.outbox, PersonRegistered(person_id="undone, flushed"), organization_id="org")
        session.flush()
        record(session, chassis.outbox, PersonRegistered(person_id="undone, pending"), organization_id="org")
        savepoint.rollback()
        kept.append(record(session, chassis.outbox, PersonRegistered(person_id="p3"), organization_id="org"))
    with sessions() as session, session.begin():
        record(session, chassis.outbox, PersonRegistered(person_id="never"), organization_id="org")
        session.rollback()
    with sessions() as session:
        stored = session.scalars(select(chassis.outbox.c.event_id).order_by(chassis.outbox.c.id)).all()
    engine.dispose()
    assert stored == kept
