"""Occupants' HTTP app: one blueprint per capability, each in its own folder."""

from services.occupants.people.api import api as people
from services.occupants.places.api import api as places
from services.occupants.service import SERVICE
from shared.web import create_service_app

BLUEPRINTS = (places, people)


def create_app(settings=None):
    app = create_service_app(SERVICE, settings)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    return app
