"""Publishing with confirms on RabbitMQ: what the broker took is confirmed, what it could not route is named."""

import pytest
from kombu import Connection, Exchange, Queue

from shared.bus.publisher import Outgoing, Publisher
from tests.conftest import fresh_vhost

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
