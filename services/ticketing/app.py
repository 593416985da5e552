"""Ticketing's HTTP app: one blueprint per capability, each in its own folder."""

from services.ticketing.handover.api import api as handover
from services.ticketing.incidents.api import api as incidents
from services.ticketing.patrols.api import api as patrols
from services.ticketing.people.api import api as people
from services.ticketing.reports.api import api as reports
from services.ticketing.repairs.api import api as repairs
from services.ticketing.review.api import api as review
from services.ticketing.rosters.api import api as rosters
from services.ticketing.service import SERVICE
from services.ticketing.sla.api import api as sla
from services.ticketing.tickets.api import api as tickets
from services.ticketing.violations.api import api as violations
from services.ticketing.visits.api import api as visits
from shared import policy_api
from shared.roles import CS_SUPERVISOR, GENERAL_MANAGER, PROPERTY_MANAGER, SITE_MANAGER
from shared.web import create_service_app

policies = policy_api.blueprint(organization_roles=(GENERAL_MANAGER, PROPERTY_MANAGER),
                                site_roles=(GENERAL_MANAGER, PROPERTY_MANAGER, SITE_MANAGER, CS_SUPERVISOR))
BLUEPRINTS = (people, policies, tickets, sla, rosters, handover, review, patrols, incidents, violations,
              reports, repairs, visits)


def create_app(settings=None):
    app = create_service_app(SERVICE, settings)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    return app
