"""Ticketing' HTTP boundary."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import String

from services.ticketing.models import Reporter
from services.ticketing.service import SERVICE
from shared.auth import auth
from shared.web import create_service_app, get_visible

api = APIBlueprint("ticketing", __name__, url_prefix="/v1")


class ReporterOut(Schema):
    person_id = String()
    full_name = String()
    phone = String()
    site_id = String()


@api.get("/reporters/<person_id>")
@api.auth_required(auth)
@api.output(ReporterOut)
def get_reporter(person_id):
    return get_visible(Reporter, person_id, "reporter")


def create_app(settings=None):
    app = create_service_app(SERVICE, settings)
    app.register_blueprint(api)
    return app
