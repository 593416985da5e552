"""HTTP boundary of return visits and surveys (TKT-9): the visits due, recording one, the manager's monthly
sampling and checks; owner surveys, their responses and their results per site."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Dict, Integer, List, Nested, Raw, String
from apiflask.validators import Length, OneOf, Range, Regexp
from sqlalchemy import select

from services.ticketing.patrols.api import at_visible_sites
from services.ticketing.visits import rules
from services.ticketing.visits.tables import ReturnVisit, ReturnVisitSampling, Survey
from shared.audit import AuditEntryOut
from shared.auth import auth, principal, require_role_at, visible_site
from shared.fields import DecimalString, UtcDateTime
from shared.idempotency import idempotent
from shared.paging import PageQuery, keyset_page, page_of
from shared.roles import ALL
from shared.web import db_session, get_visible, take_step

api = APIBlueprint("visits", __name__, url_prefix="/v1")

_Id = String(load_default=None, validate=Length(36, 36))
_Month = Regexp(r"^20\d\d-(0[1-9]|1[0-2])$", error="A month like 2026-11.")


class VisitIn(Schema):
    method = String(required=True, validate=OneOf(rules.METHODS))
    outcome = String(required=True, validate=OneOf(rules.OUTCOMES), metadata={
        "description": "satisfied closes the ticket with the occupant's acceptance; unsatisfied reopens it; "
                       "unreachable closes it with the notes as reason."})
    rating = Integer(load_default=None, allow_none=True, validate=Range(1, 5),
                     metadata={"description": "1 (very unsatisfied) … 5; none when unreachable."})
    signature_reference = String(load_default="", validate=Length(max=200),
                                 metadata={"description": "On site: the signed visit record."})
    notes = String(load_default="", validate=Length(max=2000))


class VisitQuery(PageQuery):
    site_id = _Id
    ticket_id = _Id
    state = String(load_default=None, validate=OneOf(rules.RETURN_VISIT.states))
    sampling_id = _Id


class SamplingIn(Schema):
    site_id = String(required=True, validate=Length(36, 36))
    month = String(required=True, validate=_Month)


class CheckIn(Schema):
    result = String(required=True, validate=OneOf(rules.CHECK_RESULTS))
    note = String(load_default="", validate=Length(max=2000), metadata={"description": "disputed (required)."})


class QuestionIn(Schema):
    code = String(required=True, validate=Regexp(r"^[a-z][a-z0-9_]{0,39}$"))
    text = String(required=True, validate=Length(1, 300))
    kind = String(required=True, validate=OneOf(rules.QUESTION_KINDS))


class SurveyIn(Schema):
    site_id = String(required=True, validate=Length(36, 36))
    kind = String(required=True, validate=OneOf(rules.KINDS), metadata={
        "description": "quarterly_evaluation (业主评议表, period 2026-Q4) or annual_opinion (业主意见征询表, "
                       "period 2026)."})
    period = String(required=True, validate=Length(4, 7))
    title = String(required=True, validate=Length(1, 200))
    questions = List(Nested(QuestionIn), load_default=None, validate=Length(1, 50),
                     metadata={"description": "Default: the form's usual questions."})


class ResponseIn(Schema):
    unit_id = String(load_default=None, validate=Length(36, 36), metadata={"description": "One response per unit."})
    person_id = String(load_default=None, validate=Length(36, 36))
    answers = Dict(keys=String(validate=Length(1, 40)), values=Raw(), required=True, validate=Length(1, 50),
                   metadata={"description": "{question code: 1…5 for a rating, text for a text question}"})


class SurveyQuery(PageQuery):
    site_id = _Id
    kind = String(load_default=None, validate=OneOf(rules.KINDS))
    period = String(load_default=None, validate=Length(4, 7))


class VisitOut(Schema):
    id = String()
    site_id = String()
    ticket_id = String()
    ticket_number = String()
    reason = String(metadata={"enum": ["type", "category", "sampled"]})
    state = String(metadata={"enum": rules.RETURN_VISIT.states})
    due_at = UtcDateTime(metadata={"description": "The ticket's return_visit clock."})
    method = String(allow_none=True)
    rating = Integer(allow_none=True)
    satisfied = Boolean(allow_none=True)
    signature_reference = String()
    notes = String()
    visited_by = String(allow_none=True)
    visited_at = UtcDateTime(allow_none=True)
    sampling_id = String(allow_none=True)
    check_result = String(allow_none=True)
    check_note = String()
    checked_by = String(allow_none=True)
    checked_at = UtcDateTime(allow_none=True)
    created_at = UtcDateTime()
    history = List(Nested(AuditEntryOut))


class SamplingOut(Schema):
    id = String()
    site_id = String()
    month = String()
    drawn = Integer()
    drawn_by = String()
    drawn_at = UtcDateTime()
    visits = List(Nested(VisitOut))


class QuestionOut(Schema):
    code = String()
    text = String()
    kind = String()


class SurveyOut(Schema):
    id = String()
    site_id = String()
    kind = String()
    period = String()
    title = String()
    questions = List(Nested(QuestionOut))
    state = String(metadata={"enum": rules.SURVEY.states})
    created_by = String()
    created_at = UtcDateTime()
    updated_at = UtcDateTime()
    history = List(Nested(AuditEntryOut))


class ResponseOut(Schema):
    id = String()
    survey_id = String()
    unit_id = String(allow_none=True)
    person_id = String(allow_none=True)
    answers = Dict()
    recorded_by = String()
    recorded_at = UtcDateTime()


class QuestionResultOut(QuestionOut):
    answered = Integer()
    average = DecimalString(places=2, allow_none=True)
    satisfaction_rate = DecimalString(places=2, allow_none=True, metadata={"description": "Percent rated 4 or 5."})
    distribution = Dict(keys=String(), values=Integer())


class ResultsOut(Schema):
    survey_id = String()
    site_id = String()
    kind = String()
    period = String()
    state = String()
    respondents = Integer()
    satisfaction_rate = DecimalString(places=2, allow_none=True, metadata={"description": "Percent rated 4 or 5."})
    questions = List(Nested(QuestionResultOut))


def _visit(visit: ReturnVisit, with_history: bool = True) -> dict:
    shown = {column.key: getattr(visit, column.key) for column in ReturnVisit.__table__.columns}
    return {**shown, "history": rules.history(db_session(), visit, "return_visit") if with_history else []}


def _sampling(sampling: ReturnVisitSampling) -> dict:
    shown = {column.key: getattr(sampling, column.key) for column in ReturnVisitSampling.__table__.columns}
    return {**shown, "visits": [_visit(visit, with_history=False) for visit in rules.sampled(db_session(), sampling)]}


def _survey(survey: Survey, with_history: bool = True) -> dict:
    shown = {column.key: getattr(survey, column.key) for column in Survey.__table__.columns}
    return {**shown, "history": rules.history(db_session(), survey, "survey") if with_history else []}


@api.get("/return-visits")
@api.auth_required(auth)
@api.input(VisitQuery, location="query")
@api.output(page_of(VisitOut))
def list_visits(query_data):
    """Soonest due first."""
    stmt = at_visible_sites(select(ReturnVisit), ReturnVisit, query_data["site_id"])
    for name in ("ticket_id", "state", "sampling_id"):
        if query_data[name]:
            stmt = stmt.where(getattr(ReturnVisit, name) == query_data[name])
    page = keyset_page(db_session(), stmt, (ReturnVisit.due_at, ReturnVisit.id), query_data)
    return {**page, "items": [_visit(visit, with_history=False) for visit in page["items"]]}


@api.get("/return-visits/<visit_id>")
@api.auth_required(auth)
@api.output(VisitOut)
def get_visit(visit_id):
    return _visit(get_visible(ReturnVisit, visit_id, "return visit"))


@api.post("/return-visits/<visit_id>/record")
@api.auth_required(auth)
@api.input(VisitIn)
@api.output(VisitOut)
@api.doc(description="```mermaid\n" + rules.RETURN_VISIT.mermaid() + "\n```")
def record_visit(visit_id, json_data):
    """The visit made (customer service): the ticket is closed with the occupant's acceptance, reopened, or
    closed as unreachable."""
    return _visit(take_step(ReturnVisit, visit_id, "return visit", rules.record, json_data))


@api.post("/return-visit-samplings")
@api.auth_required(auth)
@api.input(SamplingIn)
@api.output(SamplingOut, status_code=201)
def draw_sample(json_data):
    """The site manager's monthly random check of the month's visits; a month is drawn once (409 after)."""
    caller = principal()
    site_id = visible_site(json_data["site_id"])
    roles = require_role_at(site_id, *ALL)
    return _sampling(rules.draw_sample(db_session(), organization_id=caller.organization_id, site_id=site_id,
                                       month=json_data["month"], actor=caller.subject, roles=roles))


@api.get("/return-visit-samplings/<sampling_id>")
@api.auth_required(auth)
@api.output(SamplingOut)
def get_sampling(sampling_id):
    return _sampling(get_visible(ReturnVisitSampling, sampling_id, "sampling"))


@api.post("/return-visits/<visit_id>/check")
@api.auth_required(auth)
@api.input(CheckIn)
@api.output(VisitOut)
def check_visit(visit_id, json_data):
    """The manager's finding on a sampled visit."""
    return _visit(take_step(ReturnVisit, visit_id, "return visit", rules.check, json_data))


@api.post("/surveys")
@api.auth_required(auth)
@idempotent
@api.input(SurveyIn)
@api.output(SurveyOut, status_code=201)
def create_survey(json_data):
    """A site's quarterly evaluation or annual opinion survey; one per site, kind and period."""
    caller = principal()
    site_id = visible_site(json_data.pop("site_id"))
    roles = require_role_at(site_id, *ALL)
    return _survey(rules.create_survey(db_session(), organization_id=caller.organization_id, site_id=site_id,
                                       actor=caller.subject, roles=roles, **json_data))


@api.get("/surveys")
@api.auth_required(auth)
@api.input(SurveyQuery, location="query")
@api.output(page_of(SurveyOut))
def list_surveys(query_data):
    page = keyset_page(db_session(), _surveys(query_data), (Survey.created_at, Survey.id), query_data)
    return {**page, "items": [_survey(survey, with_history=False) for survey in page["items"]]}


@api.get("/surveys/<survey_id>")
@api.auth_required(auth)
@api.output(SurveyOut)
def get_survey(survey_id):
    return _survey(get_visible(Survey, survey_id, "survey"))


@api.post("/surveys/<survey_id>/close")
@api.auth_required(auth)
@api.output(SurveyOut)
def close_survey(survey_id):
    """No more responses; the results stay."""
    return _survey(take_step(Survey, survey_id, "survey", rules.close_survey, {}))


@api.post("/surveys/<survey_id>/responses")
@api.auth_required(auth)
@api.input(ResponseIn)
@api.output(ResponseOut, status_code=201)
def respond(survey_id, json_data):
    """A household's answers, collected on paper, at a visit or in the app."""
    survey = get_visible(Survey, survey_id, "survey")
    roles = require_role_at(survey.site_id, *ALL)
    return rules.respond(db_session(), survey, actor=principal().subject, roles=roles, **json_data)


@api.get("/surveys/<survey_id>/results")
@api.auth_required(auth)
@api.output(ResultsOut)
def survey_results(survey_id):
    """The site's results: respondents, and per question the average, distribution and satisfaction rate."""
    return rules.results(db_session(), get_visible(Survey, survey_id, "survey"))


@api.get("/survey-results")
@api.auth_required(auth)
@api.input(SurveyQuery, location="query")
@api.output(page_of(ResultsOut))
def results_per_site(query_data):
    """One kind and period's results, site by site, for comparing the sites the caller sees."""
    page = keyset_page(db_session(), _surveys(query_data), (Survey.site_id, Survey.id), query_data)
    return {**page, "items": [rules.results(db_session(), survey) for survey in page["items"]]}


def _surveys(query_data):
    stmt = at_visible_sites(select(Survey), Survey, query_data["site_id"])
    for name in ("kind", "period"):
        if query_data[name]:
            stmt = stmt.where(getattr(Survey, name) == query_data[name])
    return stmt
