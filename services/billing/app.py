"""Billing' HTTP boundary."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import String

from services.billing.models import Payer
from services.billing.service import SERVICE
from shared.auth import auth
from shared.web import create_service_app, get_visible

api = APIBlueprint("billing", __name__, url_prefix="/v1")


class PayerOut(Schema):
    person_id = String()
    full_name = String()
    kind = String()
    email = String()
    phone = String()


@api.get("/payers/<person_id>")
@api.auth_required(auth)
@api.output(PayerOut)
def get_payer(person_id):
    return get_visible(Payer, person_id, "payer")


def create_app(settings=None):
    app = create_service_app(SERVICE, settings)
    app.register_blueprint(api)
    return app
