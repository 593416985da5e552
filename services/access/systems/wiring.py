"""What registered systems add to access's service: their tables, their handlers and their jobs."""

from services.access.systems import handlers as _handlers  # noqa: F401  (registers the handlers)
from services.access.systems import sync
from services.access.systems import tables as _tables  # noqa: F401  (registers the tables)
from shared.service import ScheduledJob

# The push job waits inside its run for the next change (sync.IDLE_WAIT_SECONDS at most), so it runs again at
# once; a run with nothing due is one index read.
JOBS = (ScheduledJob("access-systems-push", 0, sync.push_due),
        ScheduledJob("access-systems-poll", 5, sync.poll_devices),
        ScheduledJob("access-systems-backlog", 5, sync.observe_backlog))
