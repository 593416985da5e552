"""Rules for return visits and surveys (TKT-9). Plain functions over a session; no Flask.

The seeds' procedure (维修回访制度, 走回访): every safety-facility and leak repair and every complaint is
visited again, by phone or on site, within its time limit; of other repairs at least half; the occupant's
opinion and signature are recorded, and a problem found sends the technician back. The service centre's
manager checks a random sample of the month's visits. The quarterly owner evaluation (业主评议表) and the
annual opinion survey (业主意见征询表) are collected, counted and reported per site.
"""

from __future__ import annotations

import hashlib
import random
import re
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.ticketing.models import chassis, utcnow
from services.ticketing.people.tables import Reporter, Unit
from services.ticketing.sla import clocks
from services.ticketing.sla import targets as sla
from services.ticketing.sla.tables import Deadline
from services.ticketing.tickets import rules as tickets
from services.ticketing.tickets.tables import Category, Ticket
from services.ticketing.visits.tables import ReturnVisit, ReturnVisitSampling, Survey, SurveyResponse
from shared import audit, policy
from shared.problems import Problem, unprocessable
from shared.roles import CS_SUPERVISOR, CUSTOMER_SERVICE, GENERAL_MANAGER, PROPERTY_MANAGER, SITE_MANAGER
from shared.workflow import Step, Workflow

CS = frozenset(CUSTOMER_SERVICE)
CHECKERS = frozenset((SITE_MANAGER, PROPERTY_MANAGER, GENERAL_MANAGER))
SURVEYORS = frozenset((CS_SUPERVISOR, SITE_MANAGER, PROPERTY_MANAGER, GENERAL_MANAGER))
METHODS = ("phone", "on_site")
OUTCOMES = ("satisfied", "unsatisfied", "unreachable")
CHECK_RESULTS = ("confirmed", "disputed")
# A rating of this or more counts as satisfied in survey results (满意率).
SATISFIED_FROM = 4

RETURN_VISIT = Workflow("return visit", "due", [
    Step("due", "visit", "visited", roles=CS),
    Step("due", "mark_unreachable", "unreachable", roles=CS),
    # The ticket was closed without the visit task (on the ticket itself, or with a reason): nothing is due.
    Step("due", "cancel", "cancelled"),
], final=("visited", "unreachable", "cancelled"))
SURVEY = Workflow("survey", "open", [Step("open", "close", "closed", roles=SURVEYORS)], final=("closed",))

ALWAYS_TYPES = policy.define(
    "visits.always_types", ["complaint"],
    "Ticket types every resolved ticket of which gets a return visit (TKT-9).")
ALWAYS_CATEGORIES = policy.define(
    "visits.always_categories", ["repair.leak", "repair.gas", "repair.electric", "repair.lift"],
    "Category codes (safety facilities and leaks) every resolved ticket of which gets a return visit; a "
    "category's subcategories count as the category.")
SAMPLE_PERCENT = policy.define(
    "visits.sample_percent", {"repair": 50},
    "Of the other resolved tickets, the percentage per type that gets a return visit: {type: 0…100} "
    "(the seeds: at least 50 for repairs; one asks 100).")
MONTHLY_CHECKS = policy.define(
    "visits.monthly_checks", 5,
    "How many of a month's return visits at a site the manager's monthly sampling draws for checking.")

# A ticket's states between its resolution and its closure.
AWAITING_VISIT = ("resolved", "customer_informed", "return_visit")
_FROM_EVENTS = uuid.UUID("9b1e4c07-3f5a-4e2d-8c6b-71a0d2f95e38")


# -- return visits -----------------------------------------------------------------------------------------


def on_resolved(session: Session, organization_id: str, transitioned) -> ReturnVisit | None:
    """A ticket reached `resolved` (ticket.transitioned.v1): the return visit it is due by policy, with the
    ticket's return_visit clock as its deadline (the repairs' default target for a type without one). Its id
    follows from the resolution's, so a redelivered event adds nothing, and a ticket resolved again after
    reopening is visited again. A ticket closed or reopened since the event was sent is due none for it."""
    resolved_at = transitioned.at.ToDatetime(timezone.utc)
    visit_id = str(uuid.uuid5(_FROM_EVENTS, f"{transitioned.ticket_id}/{resolved_at.isoformat()}"))
    ticket = session.get(Ticket, transitioned.ticket_id)
    if session.get(ReturnVisit, visit_id) is not None or ticket is None or ticket.state not in AWAITING_VISIT:
        return None
    reason = why_visited(session, ticket)
    if reason is None:
        return None
    due_at = session.scalar(select(Deadline.due_at).where(Deadline.ticket_id == ticket.id,
                                                          Deadline.stage == "return_visit",
                                                          Deadline.state.in_(clocks.OPEN)))
    if due_at is None:  # the ticket's type has no return_visit clock: the repairs' default target
        due_at = sla.due(clocks.site_calendar(session, ticket.site_id), sla.DEFAULTS["repair"]["return_visit"],
                         resolved_at).due_at
    visit = ReturnVisit(id=visit_id, organization_id=organization_id, site_id=ticket.site_id, ticket_id=ticket.id,
                        ticket_number=ticket.number, reason=reason, state=RETURN_VISIT.initial, due_at=due_at)
    session.add(visit)
    session.flush()
    _audit(session, visit, "schedule", tickets.PLATFORM, to_state=visit.state, data={"reason": reason})
    return visit


def on_closed(session: Session, closed) -> None:
    """A ticket closed (ticket.closed.v1) while its visit was still due: the visit is cancelled, on record."""
    due = session.scalars(select(ReturnVisit).where(ReturnVisit.ticket_id == closed.ticket_id,
                                                    ReturnVisit.state == RETURN_VISIT.initial)).all()
    for visit in due:
        step = RETURN_VISIT.step(visit.state, "cancel")
        _move(session, visit, step)
        _audit(session, visit, step.action, tickets.PLATFORM, f"The ticket was {closed.state}.", step.source,
               step.target)


def why_visited(session: Session, ticket: Ticket) -> str | None:
    """"type" or "category" when every such ticket is visited, "sampled" when the ticket falls within its
    type's sampling rate, else None. The draw follows from the ticket's id: the same ticket always draws the
    same, and over many tickets the share is the rate."""
    org, site = ticket.organization_id, ticket.site_id
    if ticket.type in _strings(policy.value(session, chassis, org, site, ALWAYS_TYPES), ALWAYS_TYPES):
        return "type"
    codes = set(_strings(policy.value(session, chassis, org, site, ALWAYS_CATEGORIES), ALWAYS_CATEGORIES))
    if ticket.category_id is not None and codes & _category_codes(session, ticket.category_id):
        return "category"
    rates = policy.value(session, chassis, org, site, SAMPLE_PERCENT)
    if not (isinstance(rates, dict) and all(type(rate) is int and 0 <= rate <= 100 for rate in rates.values())):
        rates = SAMPLE_PERCENT.default
    draw = int(hashlib.sha256(ticket.id.encode()).hexdigest(), 16) % 100
    return "sampled" if draw < rates.get(ticket.type, 0) else None


def _strings(held, setting: policy.Setting) -> list[str]:
    return held if isinstance(held, list) and all(isinstance(item, str) for item in held) else setting.default


def _category_codes(session: Session, category_id: str) -> set[str]:
    category = session.get(Category, category_id)
    parent = category and category.parent_id and session.get(Category, category.parent_id)
    return {row.code for row in (category, parent) if row}


def record(session: Session, visit: ReturnVisit, *, actor: str, roles, method: str, outcome: str,
           rating: int | None = None, signature_reference: str = "", notes: str = "") -> None:
    """The visit made: the occupant's rating, and on site their signature. The ticket follows: a satisfied
    occupant's acceptance closes it, an unsatisfied one reopens it for the work to be redone, and one who
    cannot be reached closes it with the reason."""
    step = RETURN_VISIT.step(visit.state, "mark_unreachable" if outcome == "unreachable" else "visit", roles)
    notes, signature_reference = notes.strip(), signature_reference.strip()
    if (rating is None) != (outcome == "unreachable"):
        raise unprocessable("rating", "A visit made records the occupant's rating (1–5); an unreachable one none.")
    if outcome != "satisfied" and not notes:
        raise unprocessable("notes", "Say what the occupant was unhappy about, or why they could not be reached.")
    if method == "on_site" and outcome == "satisfied" and not signature_reference:
        raise unprocessable("signature_reference", "On site the occupant signs the visit record: name it.")
    _move(session, visit, step)
    visit.method, visit.rating, visit.notes = method, rating, notes
    visit.satisfied = None if outcome == "unreachable" else outcome == "satisfied"
    visit.signature_reference, visit.visited_by, visit.visited_at = signature_reference, actor, utcnow()
    _audit(session, visit, step.action, actor, notes, step.source, step.target,
           {"method": method, "outcome": outcome, "rating": rating})
    _follow_ticket(session, session.get(Ticket, visit.ticket_id), actor=actor, roles=roles, method=method,
                   outcome=outcome, rating=rating, signature_reference=signature_reference, notes=notes)


def _move(session: Session, visit: ReturnVisit, step: Step) -> None:
    """Of two people recording one visit at once, the second answers 409 and changes nothing."""
    session.flush()
    moved = session.execute(update(ReturnVisit).where(ReturnVisit.id == visit.id, ReturnVisit.state == step.source)
                            .values(state=step.target).execution_options(synchronize_session=False))
    if moved.rowcount != 1:
        raise Problem(409, "Conflict", "The visit was recorded meanwhile; read it again.", field="outcome")
    visit.state = step.target


def _follow_ticket(session: Session, ticket: Ticket, *, actor, roles, method, outcome, rating, signature_reference,
                   notes) -> None:
    """Told the result and visited, then closed or reopened, as far as the ticket's lifecycle allows."""
    for action in ("inform", "visit"):
        if action in tickets.TICKET.allowed(ticket.state):
            tickets.take(session, ticket, actor=actor, roles=roles, action=action)
    allowed = tickets.TICKET.allowed(ticket.state)
    if outcome == "unsatisfied" and "reopen" in allowed:
        tickets.take(session, ticket, actor=actor, roles=roles, action="reopen", reason=notes)
    elif outcome != "unsatisfied" and "close" in allowed:
        signed = method == "on_site" and bool(signature_reference)
        tickets.close(session, ticket, actor=actor, roles=roles, rating=rating, reason=notes,
                      unreachable=outcome == "unreachable",
                      acceptance=None if outcome == "unreachable" else "signature" if signed else "confirmation",
                      acceptance_reference=signature_reference)


def draw_sample(session: Session, *, organization_id: str, site_id: str, month: str, actor: str,
                roles) -> ReturnVisitSampling:
    """The manager's monthly random check: a few of the month's visits at the site, drawn once."""
    if not CHECKERS.intersection(roles):
        raise Problem(403, "Forbidden", "The site's manager draws the monthly sample.")
    zone = clocks.site_calendar(session, site_id).zone
    first = _month_start(month)
    if first > datetime.now(zone).date():
        raise unprocessable("month", "The month has not begun.")
    start = datetime.combine(first, time(), zone).astimezone(timezone.utc)
    end = datetime.combine((first + timedelta(days=32)).replace(day=1), time(), zone).astimezone(timezone.utc)
    made = session.scalars(select(ReturnVisit).where(
        ReturnVisit.organization_id == organization_id, ReturnVisit.site_id == site_id,
        ReturnVisit.visited_at >= start, ReturnVisit.visited_at < end).order_by(ReturnVisit.id)).all()
    wanted = policy.value(session, chassis, organization_id, site_id, MONTHLY_CHECKS)
    wanted = wanted if type(wanted) is int and wanted > 0 else MONTHLY_CHECKS.default
    drawn = random.SystemRandom().sample(made, min(wanted, len(made)))
    sampling = ReturnVisitSampling(organization_id=organization_id, site_id=site_id, month=month, drawn=len(drawn),
                                   drawn_by=actor)
    try:
        with session.begin_nested():
            session.add(sampling)
    except IntegrityError:
        raise Problem(409, "Conflict", f"The return visits of {month} at this site were sampled already.",
                      field="month") from None
    for visit in drawn:
        visit.sampling_id = sampling.id
    audit.record_for(session, chassis.audit_log, sampling, entity="return_visit_sampling", action="draw", actor=actor,
                     data={"month": month, "visit_ids": [visit.id for visit in drawn]})
    return sampling


def check(session: Session, visit: ReturnVisit, *, actor: str, roles, result: str, note: str = "") -> None:
    """The manager's finding on a sampled visit: the occupant confirms it, or disputes it (say what)."""
    if not CHECKERS.intersection(roles):
        raise Problem(403, "Forbidden", "The site's manager checks the sampled visits.")
    if visit.sampling_id is None:
        raise Problem(409, "Conflict", "The visit was not drawn in a monthly sample.", field="result")
    if visit.check_result is not None:
        raise Problem(409, "Conflict", "The visit was checked already.", field="result")
    if result == "disputed" and not note.strip():
        raise unprocessable("note", "Say what the occupant disputes.")
    visit.check_result, visit.check_note, visit.checked_by, visit.checked_at = result, note.strip(), actor, utcnow()
    _audit(session, visit, "check", actor, note.strip(), data={"result": result})


def sampled(session: Session, sampling: ReturnVisitSampling) -> list[ReturnVisit]:
    return session.scalars(select(ReturnVisit).where(ReturnVisit.sampling_id == sampling.id)
                           .order_by(ReturnVisit.id)).all()


def _month_start(month: str) -> date:
    return date(int(month[:4]), int(month[5:]), 1)


# -- surveys -----------------------------------------------------------------------------------------------

KINDS = ("quarterly_evaluation", "annual_opinion")
PERIODS = {"quarterly_evaluation": re.compile(r"^20\d\d-Q[1-4]$"), "annual_opinion": re.compile(r"^20\d\d$")}
QUESTION_KINDS = ("rating", "text")


def _rated(code: str, text: str) -> dict:
    return {"code": code, "text": text, "kind": "rating"}


# The forms' usual questions, used when a survey names none.
DEFAULT_QUESTIONS = {
    "quarterly_evaluation": [
        _rated("reception", "客服接待 Customer-service reception"),
        _rated("repairs", "维修服务 Repairs"),
        _rated("security", "秩序维护 Security and order"),
        _rated("cleaning", "环境卫生 Cleaning"),
        _rated("greening", "绿化养护 Greening"),
        _rated("facilities", "公共设施 Public facilities"),
        {"code": "suggestions", "text": "意见和建议 Opinions and suggestions", "kind": "text"},
    ],
    "annual_opinion": [
        _rated("overall", "总体满意度 Overall satisfaction"),
        _rated("staff", "员工服务态度 Staff conduct"),
        _rated("timeliness", "处理及时性 Timeliness"),
        _rated("fees", "收费透明度 Fees and their transparency"),
        _rated("communication", "信息公开与沟通 Notices and communication"),
        {"code": "most_wanted", "text": "最希望改进的方面 What to improve first", "kind": "text"},
    ],
}


def create_survey(session: Session, *, organization_id: str, site_id: str, actor: str, roles, kind: str,
                  period: str, title: str, questions: list[dict] | None = None) -> Survey:
    if not SURVEYORS.intersection(roles):
        raise Problem(403, "Forbidden", "The customer-service supervisor or a manager runs surveys.")
    if not PERIODS[kind].match(period):
        raise unprocessable("period", "A quarterly evaluation's period is like 2026-Q4, an annual survey's 2026.")
    questions = questions or DEFAULT_QUESTIONS[kind]
    if len({question["code"] for question in questions}) != len(questions):
        raise unprocessable("questions", "Each question has its own code.")
    survey = Survey(organization_id=organization_id, site_id=site_id, kind=kind, period=period, title=title,
                    questions=[dict(question) for question in questions], state=SURVEY.initial, created_by=actor)
    try:
        with session.begin_nested():
            session.add(survey)
    except IntegrityError:
        raise Problem(409, "Conflict", f"The site has its {kind} survey of {period} already.", field="period") from None
    _audit(session, survey, "create", actor, entity="survey", to_state=survey.state)
    return survey


def close_survey(session: Session, survey: Survey, *, actor: str, roles) -> None:
    step = SURVEY.step(survey.state, "close", roles)
    survey.state, survey.updated_at = step.target, utcnow()
    _audit(session, survey, "close", actor, entity="survey", from_state=step.source, to_state=step.target)


def respond(session: Session, survey: Survey, *, actor: str, roles, answers: dict, unit_id: str | None = None,
            person_id: str | None = None) -> SurveyResponse:
    """A household's answers, while the survey is open: one response per unit."""
    if not CS.intersection(roles):
        raise Problem(403, "Forbidden", "Customer service records the responses.")
    if survey.state != "open":
        raise Problem(409, "Conflict", "The survey is closed.", field="answers",
                      extra={"state": survey.state, "allowed": []})
    kinds = {question["code"]: question["kind"] for question in survey.questions}
    for code, answer in answers.items():
        if code not in kinds:
            raise unprocessable("answers", f"The survey has no question {code!r}.")
        if kinds[code] == "rating" and not (type(answer) is int and 1 <= answer <= 5):
            raise unprocessable("answers", f"{code!r} is rated 1 to 5.")
        if kinds[code] == "text" and not (isinstance(answer, str) and len(answer) <= 2000):
            raise unprocessable("answers", f"{code!r} is answered in text of at most 2000 characters.")
    if unit_id is not None:
        unit = session.get(Unit, unit_id)
        if unit is None or unit.organization_id != survey.organization_id or unit.site_id != survey.site_id:
            raise unprocessable("unit_id", "No such unit at the survey's site.")
    if person_id is not None:
        person = session.get(Reporter, person_id)
        if person is None or person.organization_id != survey.organization_id:
            raise unprocessable("person_id", "No such person.")
    response = SurveyResponse(organization_id=survey.organization_id, survey_id=survey.id, unit_id=unit_id,
                              person_id=person_id, answers=answers, recorded_by=actor)
    try:
        with session.begin_nested():
            session.add(response)
    except IntegrityError:
        raise Problem(409, "Conflict", "The unit answered this survey already.", field="unit_id") from None
    return response


def results(session: Session, survey: Survey) -> dict:
    """Per question: how many answered, and for a rating its average, distribution and satisfaction rate
    (share rated 4 or 5, in percent); over all ratings the survey's satisfaction rate."""
    answers = session.scalars(select(SurveyResponse.answers).where(SurveyResponse.survey_id == survey.id)).all()
    per_question, all_ratings = [], []
    for question in survey.questions:
        given = [answer[question["code"]] for answer in answers if question["code"] in answer]
        shown = {"code": question["code"], "text": question["text"], "kind": question["kind"], "answered": len(given)}
        if question["kind"] == "rating":
            all_ratings += given
            shown.update(average=_average(given), satisfaction_rate=_satisfaction(given),
                         distribution={str(score): given.count(score) for score in range(1, 6)})
        per_question.append(shown)
    return {"survey_id": survey.id, "site_id": survey.site_id, "kind": survey.kind, "period": survey.period,
            "state": survey.state, "respondents": len(answers), "satisfaction_rate": _satisfaction(all_ratings),
            "questions": per_question}


def _average(ratings: list[int]) -> Decimal | None:
    return (Decimal(sum(ratings)) / len(ratings)).quantize(Decimal("0.01")) if ratings else None


def _satisfaction(ratings: list[int]) -> Decimal | None:
    if not ratings:
        return None
    return (Decimal(100) * sum(1 for rating in ratings if rating >= SATISFIED_FROM) / len(ratings)).quantize(
        Decimal("0.01"))


def history(session: Session, row, entity: str) -> list:
    return audit.trail(session, chassis.audit_log, organization_id=row.organization_id, entity=entity,
                       entity_id=row.id)


def _audit(session: Session, row, action: str, actor: str, reason: str = "", from_state: str | None = None,
           to_state: str | None = None, data: dict | None = None, entity: str = "return_visit") -> None:
    audit.record_for(session, chassis.audit_log, row, entity=entity, action=action, actor=actor,
                     from_state=from_state, to_state=to_state, reason=reason, data=data)
