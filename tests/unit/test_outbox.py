"""Outbox rows live and die with the transaction that records them."""

import pytest
from psp.occupants.v1.events_pb2 import PersonRegistered
from sqlalchemy import select

from services.occupants.models import Base, chassis
from services.occupants.people.rules import register_people
from services.occupants.people.tables import Person
from services.occupants.places.rules import create_site
from shared import db
from shared.bus.envelope import Envelope, unpack
from shared.bus.outbox import record
from shared.problems import Problem


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


def test_people_registered_together_go_in_with_their_events_in_order_or_not_at_all(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'occupants.db'}")
    Base.metadata.create_all(engine)
    sessions = db.make_sessionmaker(engine)
    with sessions() as session, session.begin():
        site = create_site(session, "org", code="S", name="Site")
        ids = register_people(session, site, [
            {"kind": "individual", "full_name": "张伟", "phone": "13800000001"},
            {"kind": "company", "full_name": "Acme", "email": "desk@acme.cn", "preferred_channels": ["email"]},
        ], registered_by="import")
    with pytest.raises(Problem) as refused, sessions() as session, session.begin():
        register_people(session, site, [{"kind": "individual", "full_name": "Kept?", "phone": "13800000001"},
                                               {"kind": "individual", "full_name": "No contact"}], registered_by="x")
    assert refused.value.field == "phone"
    with sessions() as session:
        people = {p.id: p for p in session.scalars(select(Person))}
        events = [Envelope.FromString(e) for e in
                  session.scalars(select(chassis.outbox.c.envelope).order_by(chassis.outbox.c.id)
                                  .where(chassis.outbox.c.event_type == "person.registered.v1"))]
    engine.dispose()
    assert set(people) == set(ids)
    assert [unpack(e, PersonRegistered).payload.person_id for e in events] == ids
    assert people[ids[1]].preferred_channels == ["email"] and people[ids[0]].preferred_language == "zh-CN"
