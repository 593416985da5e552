"""Notifications' wiring: every capability's tables, handlers and jobs, one migration history."""

from pathlib import Path

from services.notifications.alerts import handlers as _alerts_handlers  # noqa: F401  (registers the handlers)
from services.notifications.billing import handlers as _billing_handlers  # noqa: F401
from services.notifications.delivery import sender
from services.notifications.emergency import handlers as _emergency_handlers  # noqa: F401
from services.notifications.emergency import rules as emergency
from services.notifications.greetings import rules as greetings
from services.notifications.handlers import handlers
from services.notifications.models import Base, chassis
from services.notifications.notices import rules as notices
from services.notifications.recipients import handlers as _recipients_handlers  # noqa: F401
from services.notifications.templates import tables as _templates_tables  # noqa: F401  (registers the tables)
from shared.service import ScheduledJob, Service

SERVICE = Service(
    name="notifications",
    description="the right people, in time, on record (SPEC §6).",
    metadata=Base.metadata,
    tables=chassis,
    handlers=handlers,
    migrations=Path(__file__).parent / "migrations",
    jobs=(ScheduledJob("deliver", 0.1, sender.run),
          ScheduledJob("notices", 1, notices.dispatch_due),
          ScheduledJob("emergency-escalation", 1, emergency.escalate_due),
          ScheduledJob("emergency-unacknowledged", 5, emergency.observe_unacknowledged),
          ScheduledJob("birthdays", 3600, greetings.greet_birthdays)),
)
