"""Access' HTTP app: one blueprint per capability, each in its own folder."""

from services.access.bookings.api import api as bookings
from services.access.decisions.api import api as decisions
from services.access.doors.api import api as doors
from services.access.goods.api import api as goods
from services.access.keys.api import api as keys
from services.access.lending.api import api as lending
from services.access.passes.api import api as passes
from services.access.service import SERVICE
from services.access.systems.api import api as systems
from services.access.tokens.api import api as tokens
from shared import policy_api
from shared.roles import CS_SUPERVISOR, GENERAL_MANAGER, PROPERTY_MANAGER, SITE_MANAGER
from shared.web import create_service_app

policies = policy_api.blueprint(organization_roles=(GENERAL_MANAGER, PROPERTY_MANAGER),
                                site_roles=(GENERAL_MANAGER, PROPERTY_MANAGER, SITE_MANAGER, CS_SUPERVISOR))
BLUEPRINTS = (policies, doors, passes, decisions, tokens, keys, lending, goods, bookings, systems)


def create_app(settings=None):
    app = create_service_app(SERVICE, settings)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    return app
