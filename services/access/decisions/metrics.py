"""Decision metrics: how many by outcome and reason, and how long each took."""

from prometheus_client import Counter, Histogram

DECISIONS = Counter("access_decisions_total", "Door decisions, by outcome (allow, deny) and reason code.",
                    ["outcome", "reason"])
DECISION_SECONDS = Histogram("access_decision_seconds", "Time to decide, from request to answer.",
                             buckets=(0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5))
