"""Ticketing's wiring: every capability's tables and handlers, one migration history."""

from pathlib import Path

from services.ticketing.handlers import handlers
from services.ticketing.handover import tables as _handover_tables  # noqa: F401
from services.ticketing.incidents import tables as _incidents_tables  # noqa: F401
from services.ticketing.models import Base, chassis
from services.ticketing.patrols import handlers as _patrols_handlers  # noqa: F401  (registers the handlers)
from services.ticketing.patrols import rules as patrols
from services.ticketing.people import handlers as _people_handlers  # noqa: F401  (registers the handlers)
from services.ticketing.people import tables as _people_tables  # noqa: F401  (registers the tables)
from services.ticketing.repairs import handlers as _repairs_handlers  # noqa: F401  (registers the handlers)
from services.ticketing.repairs import rules as repairs
from services.ticketing.review import rules as review
from services.ticketing.rosters import tables as _rosters_tables  # noqa: F401
from services.ticketing.sla import clocks as sla_clocks
from services.ticketing.sla import firing as sla_firing
from services.ticketing.sla import handlers as _sla_handlers  # noqa: F401  (registers the handlers)
from services.ticketing.tickets import handlers as _tickets_handlers  # noqa: F401  (registers the handler)
from services.ticketing.tickets import tables as _tickets_tables  # noqa: F401
from services.ticketing.violations import handlers as _violations_handlers  # noqa: F401  (registers the handler)
from services.ticketing.visits import handlers as _visits_handlers  # noqa: F401  (registers the handler)
from services.ticketing.visits import tables as _visits_tables  # noqa: F401
from shared.service import ScheduledJob, Service

SERVICE = Service(
    name="ticketing",
    description="every request, one owner, on the clock (SPEC §3).",
    metadata=Base.metadata,
    tables=chassis,
    handlers=handlers,
    migrations=Path(__file__).parent / "migrations",
    jobs=(ScheduledJob("sla-firing", 1, sla_firing.fire_due),
          ScheduledJob("sla-backlog", 5, sla_firing.observe_backlog),
          ScheduledJob("sla-policy-changes", 10, sla_clocks.follow_policy_changes),
          ScheduledJob("patrol-tasks", 60, patrols.generate_due),
          ScheduledJob("daily-review", 60, review.compile_due),
          ScheduledJob("repairs-backlog", 15, repairs.observe_work_orders)),
)
