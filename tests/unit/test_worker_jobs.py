"""A worker's scheduled jobs: each run counted by outcome, a failed run followed by the next on schedule."""

from shared import metrics
from shared.config import Settings
from shared.service import load
from shared.worker import Job, Worker


def test_runs_are_counted_by_outcome_and_a_failure_does_not_stop_the_job(tmp_path):
    worker = Worker(load("occupants"), Settings(DATABASE_URL=f"sqlite:///{tmp_path}/o.sqlite3", PSP_VAR_DIR=tmp_path))
    outcomes = [None, RuntimeError("the database went away"), None]

    def flaky():
        outcome = outcomes.pop(0)
        if not outcomes:
            worker.stop.set()
        if outcome is not None:
            raise outcome

    counted = {o: metrics.WORKER_JOB_RUNS.labels("occupants", "flaky", o) for o in ("ok", "failed")}
    before = {o: c._value.get() for o, c in counted.items()}
    worker.run_job(Job("flaky", 0, flaky))
    worker.engine.dispose()
    assert {o: c._value.get() - before[o] for o, c in counted.items()} == {"ok": 2, "failed": 1}
