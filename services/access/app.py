"""Access' HTTP boundary."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import String

from services.access.models import PassHolder
from services.access.service import SERVICE
from shared.auth import auth
from shared.web import create_service_app, get_visible

api = APIBlueprint("access", __name__, url_prefix="/v1")


class PassHolderOut(Schema):
    person_id = String()
    full_name = String()
    kind = String()
    site_id = String()


@api.get("/pass-holders/<person_id>")
@api.auth_required(auth)
@api.output(PassHolderOut)
def get_pass_holder(person_id):
    return get_visible(PassHolder, person_id, "pass holder")


def create_app(settings=None):
    app = create_service_app(SERVICE, settings)
    app.register_blueprint(api)
    return app
