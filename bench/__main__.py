"""Run every benchmark, print its figures as JSON lines, and fail only on correctness figures.

Ratio targets are printed, not enforced: throughput on a shared machine varies from run to run, but a lost
or duplicated event is a bug whatever the machine.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

from bench import bus
from bench.infra import progress


def main() -> int:
    # SIGTERM unwinds like Ctrl-C, so the vhost, the databases and the worker processes are still removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    events = int(os.environ.get("BENCH_EVENTS", "20000"))
    figures = bus.run(events)
    for figure in figures:
        print(json.dumps(figure), flush=True)
    progress(f"bench finished in {time.monotonic() - started:.1f}s")
    broken = [f["bench"] for f in figures if f["bench"] in bus.MUST_BE_ZERO and f["value"] != 0]
    if broken:
        progress(f"FAILED: {', '.join(broken)} not zero")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
