"""Occupants' wiring: every capability's tables and handlers, one migration history."""

from pathlib import Path

from services.occupants.archives import tables as _archives_tables  # noqa: F401
from services.occupants.custody import rules as custody
from services.occupants.custody import tables as _custody_tables  # noqa: F401
from services.occupants.decoration import handlers as _decoration_handlers  # noqa: F401  (registers the handler)
from services.occupants.decoration import tables as _decoration_tables  # noqa: F401
from services.occupants.handlers import handlers
from services.occupants.models import Base, chassis
from services.occupants.movein import handlers as _movein_handlers  # noqa: F401  (registers the handler)
from services.occupants.movein import spotchecks as movein_spot_checks
from services.occupants.movein import tables as _movein_tables  # noqa: F401
from services.occupants.people import tables as _people_tables  # noqa: F401  (registers the tables)
from services.occupants.places import imports as places_imports
from services.occupants.places import tables as _places_tables  # noqa: F401
from services.occupants.profile import tables as _profile_tables  # noqa: F401
from services.occupants.staff import tables as _staff_tables  # noqa: F401
from shared.service import ScheduledJob, Service

SERVICE = Service(
    name="occupants",
    description="Sites, buildings, units and the people who occupy them (SPEC §2).",
    metadata=Base.metadata,
    tables=chassis,
    handlers=handlers,
    migrations=Path(__file__).parent / "migrations",
    jobs=(ScheduledJob("places-imports", 2, places_imports.run_pending),
          ScheduledJob("move-in-spot-checks", 3600, movein_spot_checks.schedule),
          ScheduledJob("custody-expiry", 600, custody.expire_due)),
)
