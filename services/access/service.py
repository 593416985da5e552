"""Access' wiring: every capability's tables and handlers, one migration history."""

from pathlib import Path

from services.access import changes as _changes  # noqa: F401  (registers the table)
from services.access.bookings import tables as _bookings_tables  # noqa: F401
from services.access.decisions import tables as _decisions_tables  # noqa: F401
from services.access.doors import tables as _doors_tables  # noqa: F401
from services.access.goods import tables as _goods_tables  # noqa: F401
from services.access.handlers import handlers
from services.access.keys import handlers as _keys_handlers  # noqa: F401  (registers the handlers)
from services.access.keys import tables as _keys_tables  # noqa: F401
from services.access.lending import rules as lending
from services.access.lending import tables as _lending_tables  # noqa: F401
from services.access.models import Base, chassis
from services.access.passes import handlers as _passes_handlers  # noqa: F401  (registers the handlers)
from services.access.passes import rules as passes
from services.access.passes import tables as _passes_tables  # noqa: F401
from services.access.places import handlers as _places_handlers  # noqa: F401  (registers the handlers)
from services.access.places import tables as _places_tables  # noqa: F401
from services.access.systems import wiring as systems
from services.access.tokens import tables as _tokens_tables  # noqa: F401
from shared.service import ScheduledJob, Service

SERVICE = Service(
    name="access",
    description="Keys, passes and gates (SPEC §5).",
    metadata=Base.metadata,
    tables=chassis,
    handlers=handlers,
    migrations=Path(__file__).parent / "migrations",
    jobs=(ScheduledJob("pass-expiry", 30, passes.expire_due),
          ScheduledJob("loan-overdue-alerts", 60, lending.alert_overdue),
          *systems.JOBS),
)
