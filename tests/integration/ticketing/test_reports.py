"""Reports, the daily review and fee refusals on PostgreSQL and RabbitMQ: the month's figures with real time
zones and aggregates, two workers compiling at once publish each site's day and each progress notice once,
and billing's arrears steps over the bus become one violation each."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from psp.ticketing.v1.repairs_pb2 import DailyReviewCompiled, ProgressNoticeIssued
from sqlalchemy import update

from services.ticketing.models import chassis
from services.ticketing.review import rules as review
from services.ticketing.tickets.tables import Ticket
from shared import policy
from shared.bus.envelope import new_envelope
from tests.conftest import ORG_A, running_workers, wait_until
from tests.integration.occupants.test_movein import billing_publishes
from tests.support.outbox import published
from tests.support.tickets import staff
from tests.unit.ticketing.test_ops import arrears_step
from tests.unit.ticketing.test_reports import SUPERVISOR, a_month_of_tickets, assert_the_months_figures
from tests.unit.ticketing.test_tickets import SITE, category_id, create, known, ok, repair, walk  # noqa: F401

pytestmark = pytest.mark.integration

CS = staff("cs-wang")


@pytest.fixture
def ticketing(platform_env):
    from services.ticketing.app import create_app

    app = create_app()
    try:
        yield app.test_client()
    finally:
        app.extensions["psp"].engine.dispose()


def test_a_sites_month_in_figures_on_postgresql(ticketing, known):
    expected = a_month_of_tickets(ticketing, known)
    assert_the_months_figures(ok(ticketing.get(f"/v1/sites/{SITE}/reports/monthly", headers=SUPERVISOR)), expected)
    csv = ticketing.get(f"/v1/sites/{SITE}/reports/monthly.csv", headers=SUPERVISOR)
    assert csv.status_code == 200 and f"{SITE},".encode() in csv.data


def test_two_workers_at_once_publish_each_sites_day_and_each_progress_notice_once(ticketing):
    state = ticketing.application.extensions["psp"]
    sites = [str(uuid.uuid4()) for _ in range(3)]
    long_jobs = []
    for site_id in sites:
        water = category_id(ticketing, "repair.water")
        job = create(ticketing, repair({}, site_id=site_id, location="public_area", category_id=water))
        ok(ticketing.post(f"/v1/tickets/{job['id']}/classification", json={"category_id": water}, headers=CS))
        long_jobs.append(walk(ticketing, job, "dispatch"))
    with state.sessions() as session, session.begin():
        long_ago = datetime.now(timezone.utc) - timedelta(days=3)
        session.execute(update(Ticket).values(created_at=long_ago, updated_at=long_ago))
        policy.override(session, chassis, organization_id=ORG_A, site_id=None, setting=review.COMPILE_AT,
                        new_value="00:00", actor="test")

    start, counts = threading.Barrier(2), []

    def worker():
        start.wait()
        counts.append(review.compile_due(state.sessions))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == len(sites)
    compiled = [p for _, p in published(state.engine, chassis, DailyReviewCompiled)]
    assert sorted(p.site_id for p in compiled) == sorted(sites)
    notices = [p for _, p in published(state.engine, chassis, ProgressNoticeIssued)]
    assert sorted(n.ticket_id for n in notices) == sorted(job["id"] for job in long_jobs)
    # Nothing happened to any job for three days: each site lists its one job as forgotten.
    assert {(p.forgotten, tuple(p.ticket_numbers)) for p in compiled} == {(1, (job["number"],)) for job in long_jobs}


def test_billings_arrears_steps_over_the_bus_record_each_refusal_once(platform_env, databases):
    demand = arrears_step("demand_letter")
    letter = new_envelope(demand, organization_id=ORG_A)
    reminder = new_envelope(arrears_step("reminder"), organization_id=ORG_A)
    with running_workers("ticketing"):
        billing_publishes(letter, letter, reminder, new_envelope(arrears_step("demand_letter"), organization_id=ORG_A))
        wait_until(lambda: databases["ticketing"].scalar(
            "SELECT count(*) FROM inbox WHERE event_type = 'arrears.step_taken.v1'") == 3, what="every delivery")
    ticketing = databases["ticketing"]
    assert ticketing.scalar("SELECT count(*) FROM violations WHERE category = 'fee_refusal' "
                            "AND severity = 'general'") == 2
    assert ticketing.scalar("SELECT count(*) FROM violations WHERE source_reference = :ref",
                            ref=f"arrears:{demand.step_id}") == 1
    assert ticketing.scalar("SELECT count(*) FROM audit_log WHERE entity = 'violation' AND action = 'report'") == 2
