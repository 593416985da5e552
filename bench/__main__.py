"""Run every benchmark, print its figures as JSON lines, and fail only on correctness figures.

Ratio targets are printed, not enforced: throughput on a shared machine varies from run to run, but a lost
or duplicated event is a bug whatever the machine.

`python -m bench NAME …` runs only the benchmarks named (bill_run, bus, door_decision,
escalation_latency_p99_ms, notice_email, occupants_csv_import, occupants_search, payment_post,
revocation_propagation_p99_ms, sla_timer_lateness_p99_ms, ticket_create, token_verify).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

from bench import (bill_run, bus, door_decision, escalation, notice_email, occupants_import, occupants_search,
                   payment_post, revocation_propagation, sla_timers, ticket_create, token_verify)
from bench.infra import progress


def main() -> int:
    # SIGTERM unwinds like Ctrl-C, so the vhost, the databases and the worker processes are still removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    benchmarks = {
        "bill_run": lambda: bill_run.run(int(os.environ.get("BENCH_BILL_UNITS", "100000"))),
        "bus": lambda: bus.run(int(os.environ.get("BENCH_EVENTS", "20000"))),
        "door_decision": door_decision.run,
        "escalation_latency_p99_ms": lambda: escalation.run(float(os.environ.get("BENCH_ESCALATION_RATE", "100")),
                                                            float(os.environ.get("BENCH_ESCALATION_SECONDS", "20"))),
        "notice_email": lambda: notice_email.run(int(os.environ.get("BENCH_NOTICE_OCCUPANTS", "20000"))),
        "occupants_csv_import": lambda: occupants_import.run(int(os.environ.get("BENCH_IMPORT_UNITS", "100000"))),
        "occupants_search": lambda: occupants_search.run(int(os.environ.get("BENCH_SEARCH_PERSONS", "1000000")),
                                                         int(os.environ.get("BENCH_SEARCH_UNITS", "300000"))),
        "payment_post": payment_post.run,
        "revocation_propagation_p99_ms": revocation_propagation.run,
        "sla_timer_lateness_p99_ms": lambda: sla_timers.run(int(os.environ.get("BENCH_SLA_DEADLINES", "100000"))),
        "ticket_create": ticket_create.run,
        "token_verify": token_verify.run,
    }
    chosen = sys.argv[1:] or list(benchmarks)
    unknown = [name for name in chosen if name not in benchmarks]
    if unknown:
        progress(f"unknown benchmark {', '.join(unknown)}; there are: {', '.join(benchmarks)}")
        return 2
    figures = [figure for name in chosen for figure in benchmarks[name]()]
    for figure in figures:
        print(json.dumps(figure), flush=True)
    progress(f"bench finished in {time.monotonic() - started:.1f}s")
    must_be_zero = (bus.MUST_BE_ZERO + door_decision.MUST_BE_ZERO + revocation_propagation.MUST_BE_ZERO
                    + sla_timers.MUST_BE_ZERO + notice_email.MUST_BE_ZERO + escalation.MUST_BE_ZERO
                    + bill_run.MUST_BE_ZERO + payment_post.MUST_BE_ZERO)
    broken = [f["bench"] for f in figures if f["bench"] in must_be_zero and f["value"] != 0]
    if broken:
        progress(f"FAILED: {', '.join(broken)} not zero")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
