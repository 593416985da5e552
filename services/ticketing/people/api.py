"""HTTP boundary of ticketing's people: who a request may come from."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import String

from services.ticketing.people.tables import Reporter
from shared.auth import auth
from shared.web import get_visible

api = APIBlueprint("people", __name__, url_prefix="/v1")


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
