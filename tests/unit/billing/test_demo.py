"""`make run`'s billing demo, seeded on SQLite as the launcher does: nothing until occupants' units arrive,
then months billed by the worker's job, most paid, one account in arrears."""

from __future__ import annotations

from sqlalchemy import func, select

from services.billing import demo
from services.billing.arrears.tables import ArrearsStep
from services.billing.billruns import rules as bill_runs
from services.billing.billruns.tables import BillRun
from services.billing.ledger.tables import Charge, Payment
from tests.conftest import ORG_A
from tests.unit.billing.conftest import a_site


def _seed_live(billing) -> bool:
    with billing.sessions() as session, session.begin():
        return demo.seed_live(session, ORG_A)


def test_the_demo_bills_months_takes_some_payments_and_leaves_an_account_in_arrears(billing):
    with billing.sessions() as session, session.begin():
        demo.seed(session, ORG_A)
    assert _seed_live(billing) is False
    a_site(billing, units=4, area="88.00")
    assert _seed_live(billing) is False
    assert _seed_live(billing) is False
    bill_runs.run_queued(billing.sessions)
    assert _seed_live(billing) is True
    assert _seed_live(billing) is True
    with billing.sessions() as session:
        assert session.scalar(select(func.count()).select_from(BillRun).where(BillRun.state == "done")) == 5
        # 4 units × 5 months × 2 monthly items.
        assert session.scalar(select(func.count()).select_from(Charge).where(
            Charge.item.in_([code for code, *_ in demo.MONTHLY]))) == 40
        assert session.scalars(select(Charge.item).where(Charge.source == "late_fee")).all() == ["late_fee"]
        assert session.scalar(select(func.count()).select_from(Payment)) == 3
        open_units = session.scalars(select(Charge.unit_id).where(Charge.state == "open").distinct()).all()
        assert len(open_units) == 2
        # The account five months behind has had its reminder, demand letter and late fee.
        behind = session.execute(select(ArrearsStep.account_id, func.count()).group_by(ArrearsStep.account_id)
                                 .order_by(func.count().desc())).first()
        assert set(session.scalars(select(ArrearsStep.step).where(ArrearsStep.account_id == behind[0]))) == {
            "reminder", "demand_letter", "late_fee"}
