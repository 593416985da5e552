"""Publishing with confirms on RabbitMQ: what the broker took is confirmed, what it could not route is named,
and the relay is done with an event no service subscribes to."""

import pytest
from kombu import Connection, Exchange, Queue
from psp.occupants.v1.events_pb2 import PersonRegistered
from sqlalchemy import update

from shared import db, metrics
from shared.bus.outbox import record
from shared.bus.publisher import Outgoing, Publisher
from shared.service import load
from tests.conftest import fresh_vhost, running_workers, wait_until

pytestmark = pytest.mark.integration


def test_a_batch_is_confirmed_message_by_message_and_the_unroutable_one_is_named():
    exchange = Exchange("probe.events", type="topic", durable=True)
    with fresh_vhost("publisher") as url, Connection(url) as connection:
        queue = Queue("probe.inbox", exchange=exchange, routing_key="kept.v1", durable=True)
        queue(connection.default_channel).declare()
        headers = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00", "x-published-at": "1.5"}
        batch = [Outgoing(f"m{i}", exchange.name, "kept.v1", f"body {i}".encode(), headers) for i in range(50)]
        batch.insert(20, Outgoing("lost", exchange.name, "nobody.listens.v1", b"?", {}))

        outcome = Publisher(connection).publish(batch)

        assert outcome.pop("lost") == "unroutable: no queue bound to 'probe.events' with key 'nobody.listens.v1'"
        assert outcome == {f"m{i}": None for i in range(50)}
        received = [queue(connection.default_channel).get(no_ack=True) for _ in range(50)]
        assert [m.body for m in received] == [f"body {i}".encode() for i in range(50)]
        first = received[0]
        assert (first.properties["message_id"], first.properties["delivery_mode"], first.headers) == ("m0", 2, headers)
        assert first.content_type == "application/x-protobuf"


def test_the_relay_marks_an_event_nobody_subscribes_to_as_done_and_counts_it(platform_env, databases):
    outbox = load("occupants").tables.outbox
    engine = db.make_engine(platform_env["occupants"])
    with db.make_sessionmaker(engine)() as session, session.begin():
        event_id = record(session, outbox, PersonRegistered(person_id="p"), organization_id="org")
        session.execute(update(outbox).where(outbox.c.event_id == event_id).values(event_type="nobody.listens.v1"))
    engine.dispose()
    unrouted = metrics.BUS_EVENTS_UNROUTED.labels("occupants", "nobody.listens.v1")
    before = unrouted._value.get()
    with running_workers("occupants"):
        wait_until(lambda: databases["occupants"].scalar(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0, what="the event done with")
    assert databases["occupants"].scalar("SELECT attempts FROM outbox WHERE event_type = 'nobody.listens.v1'") == 0
    assert unrouted._value.get() == before + 1
