"""What a service recorded in its outbox, read back as the payloads consumers will get."""

from __future__ import annotations

from google.protobuf.message import Message
from sqlalchemy import Engine, select

from shared.bus.envelope import Envelope, event_type_of, unpack
from shared.tables import ChassisTables


def published(engine: Engine, tables: ChassisTables, message_cls: type[Message]) -> list:
    """The outbox's events of this type, oldest first, as (envelope, payload) pairs."""
    outbox = tables.outbox
    with engine.connect() as connection:
        blobs = connection.scalars(select(outbox.c.envelope).where(outbox.c.event_type == event_type_of(message_cls))
                                   .order_by(outbox.c.id)).all()
    received = [unpack(Envelope.FromString(blob), message_cls) for blob in blobs]
    return [(r.envelope, r.payload) for r in received]
