"""Decision metrics: how many by outcome and reason, and how long each took. Every (outcome, reason) series
exists from the start at 0, so a rate over a quiet reason reads 0 rather than nothing."""

from prometheus_client import Counter, Histogram

from services.access.decisions.rules import REASONS, outcome_of

SERVICE = "access"
DECISIONS = Counter("access_decisions_total", "Door decisions, by outcome (allow, deny) and reason code.",
                    ["service", "outcome", "reason"])
DECISION_SECONDS = Histogram("access_decision_seconds", "Time to decide, from request to answer.", ["service"],
                             buckets=(0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5))


def start_at_zero() -> None:
    for reason in REASONS:
        DECISIONS.labels(SERVICE, outcome_of(reason), reason)
    DECISION_SECONDS.labels(SERVICE)
