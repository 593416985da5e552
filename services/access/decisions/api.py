"""HTTP boundary of the decision API, shaped for a reader that asks its platform at every swipe (as
Hikvision's remote-check mode does): one small request, one small answer, nothing else on the way.

The answer comes from the process's pass cache (services.access.decisions.cache); only a pass with a use
limit costs a query (its use is counted where the uses are stored). The decision is recorded off the request
path (services.access.decisions.recorder).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from apiflask import APIBlueprint, Schema
from apiflask.fields import String
from apiflask.validators import Length, OneOf
from flask import current_app
from sqlalchemy import select, update

from services.access.decisions import rules
from services.access.decisions.cache import PassCache
from services.access.decisions.metrics import DECISION_SECONDS, DECISIONS, SERVICE, start_at_zero
from services.access.decisions.recorder import DecisionRecorder
from services.access.decisions.tables import Decision
from services.access.inputs import an_id
from services.access.tokens import codec
from services.access.passes.tables import CREDENTIAL_KINDS, LIVE, Pass
from services.access.places.tables import Site
from shared.auth import auth, principal, require_role_at
from shared.fields import UtcDateTime
from shared.paging import PageQuery, keyset_page, page_of
from shared.roles import MANAGERS, SECURITY_GUARD, CS_SUPERVISOR
from shared.web import db_session, get_visible

api = APIBlueprint("decisions", __name__, url_prefix="/v1")

REVIEWERS = (*MANAGERS, CS_SUPERVISOR, SECURITY_GUARD)
_EXTENSION = "access.decisions"
start_at_zero()


class DecisionIn(Schema):
    door_id = String(required=True, validate=Length(1, 36))
    credential = String(required=True, validate=Length(1, 400),
                        metadata={"description": "What the reader read: a card number, a plate, a face id, a "
                                                 "QR pass's token id or the whole scanned token."})
    credential_kind = String(load_default="card", validate=OneOf(CREDENTIAL_KINDS))


class DecisionOut(Schema):
    outcome = String(metadata={"description": "allow or deny"})
    reason = String(metadata={"description": "granted, or why not: " + ", ".join(rules.REASONS[1:])})
    pass_id = String(allow_none=True)
    door_id = String()
    decided_at = UtcDateTime()


class DecisionRecordOut(DecisionOut):
    id = String()
    site_id = String()
    credential = String()
    credential_kind = String()
    asked_by = String()


class DecisionQuery(PageQuery):
    site_id = an_id()
    pass_id = String(load_default=None, validate=Length(36, 36))


class Decider:
    """A process's cache and recorder, made on its first decision (after gunicorn forks)."""

    def __init__(self, state):
        self.cache = PassCache(state.sessions)
        self.recorder = DecisionRecorder(state.engine)
        self.engine = state.engine

    def count_use(self, pass_id: str) -> bool:
        """One more use of a pass with a use limit, if any is left."""
        with self.engine.begin() as connection:
            return connection.execute(update(Pass).where(Pass.id == pass_id, Pass.state == LIVE,
                                                         Pass.uses < Pass.max_uses)
                                      .values(uses=Pass.uses + 1)).rowcount == 1


def decider() -> Decider:
    found = current_app.extensions.get(_EXTENSION)
    if found is None:
        found = current_app.extensions[_EXTENSION] = Decider(current_app.extensions["psp"])
    return found


@api.post("/decisions")
@api.auth_required(auth)
@api.input(DecisionIn)
@api.output(DecisionOut)
def decide(json_data):
    """Whether the credential opens the door now. A door the caller's organization does not have, or at a
    site the caller's credentials do not cover, is `unknown_door`."""
    started = time.perf_counter()
    caller, local = principal(), decider()
    door_id, credential, kind = json_data["door_id"], json_data["credential"], json_data["credential_kind"]
    view = local.cache.view(caller.organization_id)
    door = view.doors.get(door_id)
    if door is not None and not caller.sees_site(door.site_id):
        door = None
    now = time.time()
    token_refused = None
    if kind == "qr" and credential.startswith(codec.PREFIX):
        try:
            credential = codec.verify(credential, view.token_keys, now, view.clock_skew).token_id
        except codec.InvalidToken as refused:
            token_refused = rules.token_reason(refused.reason)
    pass_ = view.passes.get((kind, credential))
    reason = token_refused or rules.decide(door_id, door, pass_, now)
    if reason == "granted" and pass_.max_uses and not local.count_use(pass_.pass_id):
        reason = "uses_exhausted"
    decided_at = datetime.fromtimestamp(now, timezone.utc)
    outcome = rules.outcome_of(reason)
    pass_id = pass_.pass_id if pass_ is not None else None
    local.recorder.record({
        "organization_id": caller.organization_id, "site_id": door.site_id if door else "", "door_id": door_id,
        "credential": credential, "credential_kind": kind, "pass_id": pass_id, "outcome": outcome,
        "reason": reason, "asked_by": caller.subject, "decided_at": decided_at})
    DECISIONS.labels(SERVICE, outcome, reason).inc()
    DECISION_SECONDS.labels(SERVICE).observe(time.perf_counter() - started)
    return {"outcome": outcome, "reason": reason, "pass_id": pass_id, "door_id": door_id, "decided_at": decided_at}


@api.get("/decisions")
@api.auth_required(auth)
@api.input(DecisionQuery, location="query")
@api.output(page_of(DecisionRecordOut))
def list_decisions(query_data):
    site = get_visible(Site, query_data["site_id"], "site")
    require_role_at(site.site_id, *REVIEWERS)
    stmt = select(Decision).where(Decision.organization_id == site.organization_id,
                                  Decision.site_id == site.site_id)
    if query_data["pass_id"]:
        stmt = stmt.where(Decision.pass_id == query_data["pass_id"])
    return keyset_page(db_session(), stmt, (Decision.id,), query_data)
