"""Notifications' HTTP boundary."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import List, String

from services.notifications.models import Recipient
from services.notifications.service import SERVICE
from shared.auth import auth
from shared.web import create_service_app, get_visible

api = APIBlueprint("notifications", __name__, url_prefix="/v1")


class RecipientOut(Schema):
    person_id = String()
    full_name = String()
    phone = String()
    email = String()
    language = String()
    channels = List(String())


@api.get("/recipients/<person_id>")
@api.auth_required(auth)
@api.output(RecipientOut)
def get_recipient(person_id):
    return get_visible(Recipient, person_id, "recipient")


def create_app(settings=None):
    app = create_service_app(SERVICE, settings)
    app.register_blueprint(api)
    return app
