"""What registered systems add to access's service: their tables, their handlers and their jobs."""

from services.access.systems import handlers as _handlers  # noqa: F401  (registers the handlers)
from services.access.systems import sync
from services.access.systems import tables as _tables  # noqa: F401  (registers the tables)
from shared.service import ScheduledJob

# The push job's period bounds the revocation's propagation time; a run with nothing due is one index read.
JOBS = (ScheduledJob("access-systems-push", 0.2, sync.push_due),
        ScheduledJob("access-systems-poll", 5, sync.poll_devices),
        ScheduledJob("access-systems-backlog", 5, sync.observe_backlog))
