"""Events as Protocol Buffers: one Envelope around a payload message that names its own routing key."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from google.protobuf import any_pb2, timestamp_pb2
from google.protobuf.message import Message
from psp.events.v1 import envelope_pb2

Envelope = envelope_pb2.Envelope
CONTENT_TYPE = "application/x-protobuf"


@functools.cache
def event_type_of(message_cls: type[Message]) -> str:
    """The routing key declared on the payload message with `option (psp.events.v1.event_type)`."""
    name = message_cls.DESCRIPTOR.GetOptions().Extensions[envelope_pb2.event_type]
    if not name:
        raise TypeError(f"{message_cls.DESCRIPTOR.full_name} declares no event_type option")
    return name


@functools.cache
def producer_of(message_cls: type[Message]) -> str:
    """The publishing service: the second part of the proto package `psp.<service>.v1`."""
    return message_cls.DESCRIPTOR.file.package.split(".")[1]


def exchange_name(service: str) -> str:
    return f"{service}.events"


def timestamp(at: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(at)
    return stamp


def new_envelope(payload: Message, *, organization_id: str, correlation_id: str = "",
                 occurred_at: timestamp_pb2.Timestamp | None = None) -> Envelope:
    """`occurred_at` defaults to now; events written together share one (`timestamp(…)`, made once)."""
    packed = any_pb2.Any()
    packed.Pack(payload)
    message_cls = type(payload)
    return Envelope(
        id=str(uuid.uuid4()),
        type=event_type_of(message_cls),
        producer=producer_of(message_cls),
        organization_id=organization_id,
        correlation_id=correlation_id,
        payload=packed,
        occurred_at=occurred_at or timestamp(datetime.now(timezone.utc)),
    )


@dataclass(frozen=True)
class Received:
    """What a handler is given: the envelope's facts and the unpacked payload."""

    envelope: Envelope
    payload: Message

    @property
    def organization_id(self) -> str:
        return self.envelope.organization_id


def unpack(envelope: Envelope, message_cls: type[Message]) -> Received:
    payload = message_cls()
    if not envelope.payload.Unpack(payload):
        raise ValueError(f"payload is {envelope.payload.type_url}, expected {message_cls.DESCRIPTOR.full_name}")
    return Received(envelope=envelope, payload=payload)
