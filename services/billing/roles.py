"""Who may do what in billing, by the role held at the record's site (X-2)."""

from shared.roles import CASHIER, CS_SUPERVISOR, CUSTOMER_SERVICE, MANAGERS

# Rates, the catalogue, bill runs, gateways, credits and refund approvals.
EDITORS = MANAGERS
# Taking money: the cashier, the front desk and the steward collecting door to door (收费员, 前台, 楼管员).
COLLECTORS = (*CUSTOMER_SERVICE, CASHIER)
# Voiding a receipt is a supervisor's decision, not the collector's own.
VOIDERS = (*MANAGERS, CS_SUPERVISOR)
# The site's money figures.
REPORT_READERS = (*MANAGERS, CS_SUPERVISOR, CASHIER)
