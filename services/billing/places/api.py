"""HTTP boundary of billing's copies of occupants' facts: payers and the sites their bills belong to."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import String

from services.billing.places.tables import Payer, Site
from shared.auth import auth, visible_site
from shared.web import get_visible

api = APIBlueprint("billing_places", __name__, url_prefix="/v1")


class PayerOut(Schema):
    person_id = String()
    full_name = String()
    kind = String()
    email = String()
    phone = String()


def site_row(site_id: str) -> Site:
    """The site, if billing knows it for the caller's organization and the caller sees it; otherwise 404."""
    return get_visible(Site, visible_site(site_id), "site")


@api.get("/payers/<person_id>")
@api.auth_required(auth)
@api.output(PayerOut)
def get_payer(person_id):
    return get_visible(Payer, person_id, "payer")
