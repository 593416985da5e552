"""Billing's own metrics for ops: money in and out, bill runs, arrears and refused webhooks. Labels are items,
methods and steps, never ids."""

from collections import defaultdict
from decimal import Decimal

from prometheus_client import Counter, Gauge, Histogram

SERVICE = "billing"

CHARGES_RAISED = Counter("billing_charges_raised_total", "Charges raised, by item.", ["service", "item"])
CHARGED_AMOUNT = Counter("billing_charged_amount_total", "Amount charged in yuan, by item.", ["service", "item"])
PAYMENTS_POSTED = Counter("billing_payments_posted_total", "Payments posted, by method.", ["service", "method"])
PAID_AMOUNT = Counter("billing_paid_amount_total", "Amount received in yuan, by method.", ["service", "method"])
BILL_RUN_UNITS = Counter("billing_bill_run_units_total", "Units a bill run has billed so far.", ["service"])
BILL_RUN_DURATION = Histogram("billing_bill_run_duration_seconds", "Time from a bill run's start to its summary.",
                              ["service"], buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600))
BILL_RUNS_UNFINISHED = Gauge("billing_bill_runs_unfinished", "Bill runs queued or running.", ["service"],
                             multiprocess_mode="max")
ARREARS_STEPS = Counter("billing_arrears_steps_total", "Arrears ladder steps taken, by step.", ["service", "step"])
WEBHOOK_SIGNATURE_FAILURES = Counter("billing_webhook_signature_failures_total",
                                     "Payment webhooks refused for a bad, stale or replayed signature, by reason.",
                                     ["service", "reason"])

# Series that exist from the start at 0, so dashboards and alerts read 0 rather than nothing (methods, steps
# and refusal reasons are started where they are defined).
for _item in ("management_fee", "paid_service", "overtime_air_conditioning", "late_fee"):
    CHARGES_RAISED.labels(SERVICE, _item)
    CHARGED_AMOUNT.labels(SERVICE, _item)
for _metric in (BILL_RUN_UNITS, BILL_RUN_DURATION, BILL_RUNS_UNFINISHED):
    _metric.labels(SERVICE)


def charged(rows) -> None:
    """Count newly raised charge rows, a label at a time."""
    counts, amounts = defaultdict(int), defaultdict(Decimal)
    for row in rows:
        counts[row["item"]] += 1
        amounts[row["item"]] += row["amount"]
    for item, count in counts.items():
        CHARGES_RAISED.labels(SERVICE, item).inc(count)
        CHARGED_AMOUNT.labels(SERVICE, item).inc(float(amounts[item]))
