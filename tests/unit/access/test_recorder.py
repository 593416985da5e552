"""The decision recorder on SQLite: a queue far smaller than the burst makes callers wait, never drops one;
what the writer thread has not written yet is written by `flush`."""

import threading
from datetime import datetime, timezone

from sqlalchemy import create_engine, func, select

from services.access.decisions.recorder import DecisionRecorder
from services.access.decisions.tables import Decision
from tests.conftest import ORG_A, migrate


def _decision(n: int) -> dict:
    return {"organization_id": ORG_A, "site_id": "s", "door_id": f"door-{n % 7}", "credential": f"CARD-{n}",
            "credential_kind": "card", "pass_id": None, "outcome": "deny", "reason": "unknown_credential",
            "asked_by": "reader", "decided_at": datetime.now(timezone.utc)}


def test_a_burst_bigger_than_the_queue_is_written_whole(tmp_path):
    url = f"sqlite:///{tmp_path}/access.sqlite3"
    migrate("access", url)
    engine = create_engine(url)
    recorder = DecisionRecorder(engine, capacity=8, batch=5, interval=0.01)
    threads = [threading.Thread(target=lambda k=k: [recorder.record(_decision(k * 1000 + n)) for n in range(250)])
               for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorder.flush()
    with engine.connect() as connection:
        written = connection.scalar(select(func.count()).select_from(Decision))
        distinct = connection.scalar(select(func.count(func.distinct(Decision.credential))))
    engine.dispose()
    assert (written, distinct) == (1000, 1000)
