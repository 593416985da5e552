"""gunicorn settings for every service's API process: `gunicorn -c python:shared.gunicorn_conf ...`.

The app is not preloaded, so `create_app()` (and with it the tracer provider, whose exporter thread would
not survive a fork) runs in each worker after gunicorn forks it.
"""

import gc
import os

from prometheus_client import multiprocess

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
accesslog = None
graceful_timeout = 20
timeout = 30
# One control socket per user would be shared by all five services on a machine; none is needed.
control_socket_disable = True


def on_starting(server):
    """Start with an empty metrics folder: a pod's emptyDir outlives a container restart, and stale files
    would keep reporting the old process's start time."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder and os.path.isdir(folder):
        for name in os.listdir(folder):
            if name.endswith(".db"):
                os.remove(os.path.join(folder, name))


def child_exit(server, worker):
    """Drop the dead worker's live gauges from the multiprocess metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    """Exempt the loaded application from the garbage collector: see `shared.worker.Worker.run_forever`."""
    gc.freeze()
