"""Fee items and rates (BIL-1): bases, cycles, rates whose dates never overlap, and what one charge comes to.

Bases follow the fee engines operators know (area × price, fixed, meter-reading difference, per use), plus
an operator's own formula over the same quantities, evaluated by `simpleeval` with exact decimals only.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import simpleeval
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from services.billing.models import CURRENCY, chassis, to_fen, utcnow
from services.billing.rates.tables import FeeItem, Rate
from shared import audit
from shared.problems import Problem, unprocessable

BASES = ("per_area", "per_meter_unit", "fixed", "per_use", "formula")
CYCLES = {"monthly": 1, "quarterly": 3, "half_yearly": 6, "yearly": 12, "one_off": 0}
METER_KINDS = ("water", "electricity", "gas")
# The quantities a formula may name; `price` is the rate in force.
FORMULA_NAMES = ("area", "consumption", "uses", "months", "price")
_FORMULA_FUNCTIONS = {"min": min, "max": max}


@dataclass(frozen=True)
class Quantities:
    """What one charge is measured from."""

    area: Decimal = Decimal(0)
    consumption: Decimal = Decimal(0)
    uses: Decimal = Decimal(1)
    months: int = 1


def _exact_number(node: ast.Constant) -> Decimal:
    if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
        raise simpleeval.InvalidExpression("a formula holds numbers only")
    # repr gives back the literal as written ("0.7"), so the decimal is exact.
    return Decimal(repr(node.value))


@functools.lru_cache(maxsize=256)
def _parsed(formula: str) -> ast.AST:
    return simpleeval.SimpleEval().parse(formula)


class Formula:
    """An operator's formula, parsed once, evaluated with exact decimals: its number literals are read as
    decimals, never floats. One instance per thread: evaluating sets its names."""

    def __init__(self, formula: str):
        self.formula = formula
        self.parsed = _parsed(formula)
        self.evaluator = simpleeval.SimpleEval(functions=_FORMULA_FUNCTIONS)
        self.evaluator.nodes[ast.Constant] = _exact_number

    def __call__(self, price: Decimal, quantities: Quantities) -> Decimal:
        self.evaluator.names = {"area": quantities.area, "consumption": quantities.consumption,
                                "uses": quantities.uses, "months": Decimal(quantities.months), "price": price}
        value = self.evaluator.eval(self.formula, previously_parsed=self.parsed)
        if not isinstance(value, (Decimal, int)) or isinstance(value, bool):
            raise simpleeval.InvalidExpression("a formula comes to a number")
        return Decimal(value)


def evaluate(formula: str, price: Decimal, quantities: Quantities) -> Decimal:
    return Formula(formula)(price, quantities)


def check_formula(formula: str) -> None:
    """422 naming `formula` unless it evaluates over sample quantities."""
    try:
        evaluate(formula, Decimal("1.5"), Quantities(Decimal("89.5"), Decimal("12.3"), Decimal(2), 6))
    except (simpleeval.InvalidExpression, ArithmeticError, TypeError, SyntaxError, ValueError) as exc:
        raise unprocessable("formula", f"The formula cannot be evaluated: {exc}.") from exc


def pricer(item: FeeItem, price: Decimal) -> Callable[[Quantities], Decimal]:
    """What one charge of the item at this price comes to, rounded to the fen by the service's rule; made
    once for a batch of charges."""
    if item.basis == "per_area":
        return lambda q: to_fen(q.area * price * q.months)
    if item.basis == "per_meter_unit":
        return lambda q: to_fen(q.consumption * price)
    if item.basis == "fixed":
        return lambda q: to_fen(price * max(q.months, 1))
    if item.basis == "per_use":
        return lambda q: to_fen(q.uses * price)
    formula = Formula(item.formula)

    def by_formula(quantities: Quantities) -> Decimal:
        try:
            return to_fen(formula(price, quantities))
        except (simpleeval.InvalidExpression, ArithmeticError, TypeError) as exc:
            raise Problem(409, "Conflict", f"The formula of {item.code} cannot be evaluated: {exc}.") from exc

    return by_formula


def amount(item: FeeItem, price: Decimal, quantities: Quantities) -> Decimal:
    """One charge of the item at this price."""
    return pricer(item, price)(quantities)


def create_item(session: Session, *, organization_id: str, site_id: str, code: str, name: str, basis: str,
                cycle: str, meter_kind: str = "", formula: str = "", actor: str) -> FeeItem:
    if basis == "per_meter_unit" and meter_kind not in METER_KINDS:
        raise unprocessable("meter_kind", f"A per-meter-unit item reads one of: {', '.join(METER_KINDS)}.")
    if basis == "formula":
        check_formula(formula)
    elif formula:
        raise unprocessable("formula", "Only an item on the formula basis has a formula.")
    if session.scalar(select(FeeItem.id).where(FeeItem.site_id == site_id, FeeItem.code == code)):
        raise Problem(409, "Conflict", f"The site has an item {code} already.", field="code")
    item = FeeItem(organization_id=organization_id, site_id=site_id, code=code, name=name, basis=basis,
                   cycle=cycle, meter_kind=meter_kind if basis == "per_meter_unit" else "", formula=formula,
                   created_by=actor, created_at=utcnow())
    session.add(item)
    session.flush()
    audit.record_for(session, chassis.audit_log, item, entity="fee_item", action="create", actor=actor,
                     data={"code": code, "basis": basis, "cycle": cycle})
    return item


def add_rate(session: Session, item: FeeItem, *, price: Decimal, effective_from: date,
             effective_to: date | None, actor: str, currency: str = CURRENCY) -> Rate:
    """A new rate of the item; one whose dates overlap an existing rate is refused. The item's row is locked
    so two overlapping rates added at once cannot both pass the check."""
    if effective_to is not None and effective_to < effective_from:
        raise unprocessable("effective_to", "A rate cannot end before it starts.")
    session.execute(select(FeeItem.id).where(FeeItem.id == item.id).with_for_update())
    clash = session.scalar(select(Rate).where(
        Rate.item_id == item.id,
        or_(Rate.effective_to.is_(None), Rate.effective_to >= effective_from),
        *([Rate.effective_from <= effective_to] if effective_to is not None else [])))
    if clash is not None:
        until = clash.effective_to.isoformat() if clash.effective_to else "further notice"
        raise unprocessable("effective_from", f"The dates overlap the rate from {clash.effective_from.isoformat()} "
                                              f"to {until}.")
    rate = Rate(organization_id=item.organization_id, site_id=item.site_id, item_id=item.id, price=price,
                currency=currency, effective_from=effective_from, effective_to=effective_to, created_by=actor,
                created_at=utcnow())
    session.add(rate)
    session.flush()
    audit.record_for(session, chassis.audit_log, rate, entity="rate", action="create", actor=actor,
                     data={"item": item.code, "price": str(price), "from": effective_from.isoformat(),
                           "to": effective_to.isoformat() if effective_to else None})
    return rate


def prices_on(session: Session, site_id: str, day: date) -> dict[str, tuple[FeeItem, Decimal]]:
    """The site's items with a rate in force on the day: code → (item, price)."""
    rows = session.execute(select(FeeItem, Rate.price).join(Rate, Rate.item_id == FeeItem.id).where(
        FeeItem.site_id == site_id, Rate.effective_from <= day,
        or_(Rate.effective_to.is_(None), Rate.effective_to >= day))).all()
    return {item.code: (item, price) for item, price in rows}


def item_at(session: Session, site_id: str, code: str) -> FeeItem | None:
    return session.scalar(select(FeeItem).where(FeeItem.site_id == site_id, FeeItem.code == code))
