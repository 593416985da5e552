"""Billing's wiring: every capability's tables, handlers and scheduled jobs, one migration history."""

from pathlib import Path

from services.billing.arrears import rules as arrears
from services.billing.arrears import tables as _arrears_tables  # noqa: F401  (registers the tables)
from services.billing.billruns import rules as bill_runs
from services.billing.catalogue import tables as _catalogue_tables  # noqa: F401
from services.billing.deposits import handlers as _deposits_handlers  # noqa: F401  (registers the handler)
from services.billing.handlers import handlers
from services.billing.ledger import handlers as _ledger_handlers  # noqa: F401  (registers the handlers)
from services.billing.meters import handlers as _meters_handlers  # noqa: F401  (registers the handler)
from services.billing.meters import rules as meters
from services.billing.models import Base, chassis
from services.billing.places import handlers as _places_handlers  # noqa: F401  (registers the handlers)
from shared.service import ScheduledJob, Service

SERVICE = Service(
    name="billing",
    description="Charges, payments and arrears (SPEC §4).",
    metadata=Base.metadata,
    tables=chassis,
    handlers=handlers,
    migrations=Path(__file__).parent / "migrations",
    jobs=(ScheduledJob("bill-run-schedule", 600, bill_runs.schedule_due),
          ScheduledJob("bill-runs", 2, bill_runs.run_queued),
          ScheduledJob("arrears-ladder", 3600, arrears.take_due_steps),
          ScheduledJob("prepaid-check", 3600, meters.check_prepaid)),
)
