"""Held passes, working-hours schedules and keys outstanding at move-out on PostgreSQL: the same checks as on
SQLite (tests/unit/access/test_held_schedules_keys.py), through the JSON columns, row locks and the decision
cache of the real database."""

from __future__ import annotations

import pytest

from tests.integration.access.test_passes import access  # noqa: F401  (the fixture: access on PostgreSQL)
from tests.unit.access import test_held_schedules_keys as checks

pytestmark = pytest.mark.integration


def test_passes_wait_for_the_first_door_and_are_dropped_when_their_reason_ends(access, databases):
    checks.test_passes_asked_for_before_the_site_has_doors_are_held_then_issued_with_its_first_door(access)
    checks.test_a_held_pass_whose_reason_ends_first_is_dropped_not_issued(access)


def test_a_contractor_pass_keeps_the_permit_hours_until_overtime(access, databases):
    checks.test_a_contractor_pass_opens_only_on_the_permit_days_until_overtime_is_approved(access)


def test_move_out_flags_keys_outstanding(access, databases):
    checks.test_move_out_flags_the_keys_the_person_holds_outstanding_until_returned(access)
