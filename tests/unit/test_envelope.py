"""Event contracts: routing keys come from the proto, envelopes round-trip, unknown fields are tolerated."""

import pytest
from psp.events.v1.envelope_pb2 import Envelope
from psp.occupants.v1.events_pb2 import PersonRegistered

from shared.bus.consumer import Handlers
from shared.bus.envelope import event_type_of, exchange_name, new_envelope, producer_of, unpack
from shared.bus.topology import Subscription


def test_routing_key_and_producer_are_declared_by_the_contract():
    assert event_type_of(PersonRegistered) == "person.registered.v1"
    assert producer_of(PersonRegistered) == "occupants"
    assert exchange_name("occupants") == "occupants.events"


def test_envelope_round_trips_with_its_payload():
    envelope = new_envelope(PersonRegistered(person_id="p1", full_name="张伟"), organization_id="org-1",
                            correlation_id="c-1")
    received = unpack(Envelope.FromString(envelope.SerializeToString()), PersonRegistered)
    assert received.payload.full_name == "张伟"
    assert (received.envelope.type, received.envelope.producer) == ("person.registered.v1", "occupants")
    assert received.organization_id == "org-1"
    assert received.envelope.correlation_id == "c-1"


def test_consumers_tolerate_fields_a_newer_producer_added():
    payload = PersonRegistered(person_id="p1").SerializeToString()
    newer = payload + b"\xa2\x06\x05extra"  # field 100, length-delimited: unknown to this version
    envelope = new_envelope(PersonRegistered(), organization_id="org-1")
    envelope.payload.value = newer
    assert unpack(Envelope.FromString(envelope.SerializeToString()), PersonRegistered).payload.person_id == "p1"


def test_a_payload_of_another_type_is_refused():
    envelope = new_envelope(PersonRegistered(person_id="p1"), organization_id="org-1")
    with pytest.raises(ValueError, match="expected"):
        unpack(Envelope.FromString(envelope.SerializeToString()), Envelope)


def test_retry_ladder_names_and_delays():
    subscription = Subscription("billing", (("occupants", "person.registered.v1"),), (1.0, 5.0))
    queues = {q.name: q for q in subscription.queues()}
    assert subscription.max_attempts == 3
    assert queues["billing.inbox.retry.2"].queue_arguments == {
        "x-message-ttl": 5000, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": "billing.inbox"}
    assert "billing.inbox.dead" in queues


def test_a_second_handler_for_one_event_type_is_refused_not_swapped_in():
    handlers = Handlers("probe")

    @handlers.on(PersonRegistered)
    def first(session, event):
        pass

    with pytest.raises(ValueError, match="person.registered.v1 already.*first"):
        @handlers.on_batch(PersonRegistered)
        def second(session, events):
            pass

    assert handlers.routes["person.registered.v1"].handler is first
