"""Fee items and rates (BIL-1): bases, formulas evaluated with exact decimals, rates whose dates never overlap,
and a site's rate card."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from services.billing.models import to_fen
from services.billing.rates import rules
from services.billing.rates.tables import FeeItem, Rate
from tests.unit.billing.conftest import CASHIER, MANAGER, add_item


def test_the_one_rounding_rule_is_to_the_fen_halves_away_from_zero():
    assert to_fen(Decimal("0.005")) == Decimal("0.01")
    assert to_fen(Decimal("2.675")) == Decimal("2.68")
    assert to_fen(Decimal("-0.005")) == Decimal("-0.01")


@pytest.mark.parametrize("basis, quantities, expected", [
    ("per_area", rules.Quantities(area=Decimal("89.50"), months=6), "4296.00"),
    ("per_meter_unit", rules.Quantities(consumption=Decimal("12.3")), "98.40"),
    ("fixed", rules.Quantities(months=3), "24.00"),
    ("per_use", rules.Quantities(uses=Decimal("2.5")), "20.00"),
])
def test_each_basis_prices_a_charge(basis, quantities, expected):
    item = FeeItem(code="x", basis=basis, formula="")
    assert rules.amount(item, Decimal("8"), quantities) == Decimal(expected)


def test_a_formula_is_evaluated_with_exact_decimals():
    item = FeeItem(code="x", basis="formula", formula="area * price * 0.1 + min(consumption, 3) * 1.1")
    # Floats would give 0.30000000000000004-style errors before rounding; decimals give the exact sum.
    assert rules.amount(item, Decimal("3"), rules.Quantities(area=Decimal("1"), consumption=Decimal("5"))) == \
        Decimal("3.60")
    assert rules.evaluate("0.1 + 0.2", Decimal(0), rules.Quantities()) == Decimal("0.3")


@pytest.mark.parametrize("formula", ["area ** 99999999", "__import__('os')", "'text'", "unknown * 2", "area +",
                                     "1 / 0"])
def test_a_formula_that_cannot_be_evaluated_is_refused(billing, site, formula):
    answer = billing.client.post(f"/v1/sites/{site.site_id}/fee-items", headers=MANAGER, json={
        "code": "custom", "name": "Custom", "basis": "formula", "cycle": "monthly", "formula": formula})
    assert answer.status_code == 422 and answer.get_json()["field"] == "formula", answer.get_json()
    with billing.sessions() as session:
        assert session.scalar(select(func.count()).select_from(FeeItem)) == 0


def test_rates_whose_dates_overlap_are_refused_and_change_nothing(billing, site):
    item = add_item(billing, site.site_id, "management_fee", "per_area", "monthly", "8")
    rates_url = f"/v1/fee-items/{item['id']}/rates"
    # The first rate runs until further notice: a later one overlaps it until it is given an end.
    overlap = billing.client.post(rates_url, headers=MANAGER, json={"price": "9", "effective_from": "2027-01-01"})
    assert overlap.status_code == 422 and overlap.get_json()["field"] == "effective_from"
    backwards = billing.client.post(rates_url, headers=MANAGER, json={
        "price": "7", "effective_from": "2025-06-01", "effective_to": "2025-01-01"})
    assert backwards.status_code == 422 and backwards.get_json()["field"] == "effective_to"
    before = billing.client.post(rates_url, headers=MANAGER, json={
        "price": "7.5", "effective_from": "2025-01-01", "effective_to": "2025-12-31"})
    assert before.status_code == 201
    touching = billing.client.post(rates_url, headers=MANAGER, json={
        "price": "7", "effective_from": "2025-12-31", "effective_to": "2025-12-31"})
    assert touching.status_code == 422
    with billing.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Rate)) == 2
    assert billing.client.post(rates_url, headers=CASHIER, json={
        "price": "1", "effective_from": "2020-01-01", "effective_to": "2020-12-31"}).status_code == 403


def test_the_rate_card_shows_the_price_in_force_on_the_day(billing, site):
    item = add_item(billing, site.site_id, "water", "per_meter_unit", "monthly", "3.2", meter_kind="water")
    assert billing.client.post(f"/v1/fee-items/{item['id']}/rates", headers=MANAGER, json={
        "price": "2.9", "effective_from": "2024-01-01", "effective_to": "2025-12-31"}).status_code == 201
    card = billing.client.get(f"/v1/sites/{site.site_id}/rate-card?on=2025-06-01", headers=CASHIER).get_json()
    assert [(line["item"]["code"], line["price"]) for line in card["lines"]] == [("water", "2.9000")]
    card = billing.client.get(f"/v1/sites/{site.site_id}/rate-card?on=2026-06-01", headers=CASHIER).get_json()
    assert [(line["item"]["code"], line["price"]) for line in card["lines"]] == [("water", "3.2000")]


def test_a_per_meter_item_names_its_meter_and_codes_are_unique_per_site(billing, site):
    answer = billing.client.post(f"/v1/sites/{site.site_id}/fee-items", headers=MANAGER, json={
        "code": "water", "name": "Water", "basis": "per_meter_unit", "cycle": "monthly"})
    assert answer.status_code == 422 and answer.get_json()["field"] == "meter_kind"
    add_item(billing, site.site_id, "elevator", "fixed", "monthly", "20")
    twice = billing.client.post(f"/v1/sites/{site.site_id}/fee-items", headers=MANAGER, json={
        "code": "elevator", "name": "Elevator", "basis": "fixed", "cycle": "monthly"})
    assert twice.status_code == 409 and twice.get_json()["field"] == "code"
