"""Billing's HTTP boundary: every capability's routes in one app."""

from __future__ import annotations

from services.billing.arrears.api import api as arrears
from services.billing.billruns.api import api as bill_runs
from services.billing.catalogue.api import api as catalogue
from services.billing.deposits.api import api as deposits
from services.billing.ledger.api import api as ledger
from services.billing.meters.api import api as meters
from services.billing.places.api import api as places
from services.billing.rates.api import api as rates
from services.billing.reports.api import api as reports
from services.billing.service import SERVICE
from shared import policy_api
from shared.roles import GENERAL_MANAGER, MANAGERS, PROPERTY_MANAGER
from shared.web import create_service_app

policies = policy_api.blueprint(organization_roles=(GENERAL_MANAGER, PROPERTY_MANAGER), site_roles=MANAGERS)
BLUEPRINTS = (places, policies, rates, ledger, bill_runs, meters, arrears, catalogue, deposits, reports)


def create_app(settings=None):
    app = create_service_app(SERVICE, settings)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    return app
