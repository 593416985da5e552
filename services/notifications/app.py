"""Notifications' HTTP app: one blueprint per capability, each in its own folder."""

from services.notifications.delivery.api import api as delivery
from services.notifications.emergency.api import api as emergency
from services.notifications.notices.api import api as notices
from services.notifications.recipients.api import api as recipients
from services.notifications.recipients.api import directory_roles
from services.notifications.service import SERVICE
from services.notifications.templates.api import api as templates
from shared import policy_api
from shared.roles import CS_SUPERVISOR, GENERAL_MANAGER, PROPERTY_MANAGER, SITE_MANAGER
from shared.web import create_service_app

policies = policy_api.blueprint(organization_roles=(GENERAL_MANAGER, PROPERTY_MANAGER),
                                site_roles=(GENERAL_MANAGER, PROPERTY_MANAGER, SITE_MANAGER, CS_SUPERVISOR))
BLUEPRINTS = (recipients, delivery, templates, notices, emergency, policies)


def create_app(settings=None):
    app = create_service_app(SERVICE, settings)
    # Roles held per the staff directory count beside the token's (shared.auth.roles_at).
    app.extensions["psp"].role_directory = directory_roles
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    return app
