"""The payloads move-in publishes; contracts in proto/psp/occupants/v1/movein.proto and charges.proto."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp
from psp.occupants.v1.charges_pb2 import ChargesRequested, RequestedCharge
from psp.occupants.v1.movein_pb2 import (
    HandedKey,
    MeterOpeningReadingsRecorded,
    MoveInAccepted,
    OpeningReading,
    RectificationRequested,
)

from shared.db import aware

PURPOSE = "move_in"


def _at(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(aware(moment))
    return stamp


def charges_requested(move_in, charges: Sequence[dict]) -> ChargesRequested:
    """`charges`: item, amount (text, empty for billing to price), currency, description."""
    return ChargesRequested(
        request_id=move_in.fees_request_id, purpose=PURPOSE, reference_id=move_in.id, site_id=move_in.site_id,
        unit_id=move_in.unit_id, person_id=move_in.person_id,
        charges=[RequestedCharge(item=c["item"], amount=c["amount"], currency=c["currency"],
                                 description=c["description"]) for c in charges])


def opening_readings(move_in) -> MeterOpeningReadingsRecorded:
    readings = [OpeningReading(meter=meter, reading=str(value)) for meter, value in (
        ("water", move_in.water_reading), ("electricity", move_in.electricity_reading),
        ("gas", move_in.gas_reading)) if value is not None]
    return MeterOpeningReadingsRecorded(
        move_in_id=move_in.id, site_id=move_in.site_id, unit_id=move_in.unit_id, person_id=move_in.person_id,
        read_at=_at(move_in.readings_at), readings=readings)


def rectifications(move_in, defects: Iterable) -> list[RectificationRequested]:
    return [RectificationRequested(
        rectification_id=d.id, purpose=PURPOSE, reference_id=move_in.id, site_id=move_in.site_id,
        unit_id=move_in.unit_id, person_id=move_in.person_id, location=d.location, description=d.description,
        due_at=_at(d.due_at), inspection_round=d.inspection_round) for d in defects]


def accepted(move_in, keys: Sequence[dict], accepted_by: str) -> MoveInAccepted:
    return MoveInAccepted(
        move_in_id=move_in.id, site_id=move_in.site_id, unit_id=move_in.unit_id, person_id=move_in.person_id,
        occupancy_role=move_in.occupancy_role, accepted_at=_at(move_in.accepted_at),
        keys=[HandedKey(kind=k["kind"], count=k["count"]) for k in keys], accepted_by=accepted_by)
