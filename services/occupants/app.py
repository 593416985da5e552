"""Occupants' HTTP app: one blueprint per capability, each in its own folder."""

from services.occupants.archives.api import api as archives
from services.occupants.custody.api import api as custody
from services.occupants.decoration.api import api as decoration
from services.occupants.movein.api import api as movein
from services.occupants.people.api import api as people
from services.occupants.places.api import api as places
from services.occupants.profile.api import api as profile
from shared.roles import CS_SUPERVISOR, GENERAL_MANAGER, PROPERTY_MANAGER, SITE_MANAGER
from services.occupants.service import SERVICE
from services.occupants.staff.api import api as staff
from services.occupants.staff.api import directory_roles
from shared import policy_api
from shared.web import create_service_app

policies = policy_api.blueprint(organization_roles=(GENERAL_MANAGER, PROPERTY_MANAGER),
                                site_roles=(GENERAL_MANAGER, PROPERTY_MANAGER, SITE_MANAGER, CS_SUPERVISOR))
BLUEPRINTS = (places, people, custody, profile, policies, archives, staff, decoration, movein)


def create_app(settings=None):
    app = create_service_app(SERVICE, settings)
    # Roles held per the staff directory count beside the token's (shared.auth.roles_at).
    app.extensions["psp"].role_directory = directory_roles
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    return app
