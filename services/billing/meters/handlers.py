"""Opening meter readings from move-in (OCC-3 → BIL-3): the first consumption is measured from them."""

from __future__ import annotations

from datetime import timezone
from decimal import Decimal, InvalidOperation

from psp.occupants.v1.movein_pb2 import MeterOpeningReadingsRecorded
from sqlalchemy import select

from services.billing.handlers import handlers
from services.billing.meters import rules
from services.billing.meters.tables import Meter, Reading
from services.billing.places.rules import today_at

ACTOR = "move-in"


@handlers.on(MeterOpeningReadingsRecorded)
def record_opening_readings(session, event) -> None:
    recorded = event.payload
    read_on = today_at(session, recorded.site_id, recorded.read_at.ToDatetime(timezone.utc))
    for opening in recorded.readings:
        try:
            value = Decimal(opening.reading)
        except InvalidOperation:
            continue
        if opening.meter not in ("water", "electricity", "gas") or not value.is_finite() or value < 0:
            continue
        # A redelivered event finds its opening reading of that day there already.
        taken = session.scalar(select(Reading.id).join(Meter, Meter.id == Reading.meter_id).where(
            Meter.code == f"{opening.meter}:{recorded.unit_id}", Meter.site_id == recorded.site_id,
            Reading.kind == "opening", Reading.value == value, Reading.read_on == read_on))
        if taken is None:
            rules.record_opening(session, organization_id=event.organization_id, site_id=recorded.site_id,
                                 unit_id=recorded.unit_id, meter_kind=opening.meter, value=value, read_on=read_on,
                                 actor=ACTOR)
