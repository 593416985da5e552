"""Rules for move-in (入住 / 入伙, OCC-3). Plain functions over a session; no Flask.

The seeds' procedure: check the applicant's papers (an agent also brings the principal's ID and a letter of
authority, an organization its proof), fill in the registration form, sign the agreements and hand over the
handbooks, note the services the occupant entrusts to the centre, collect the move-in fees, inspect the unit
together with the occupant and read the meters, have defects rectified by a deadline and inspect again, hand
over the keys against a signature, file the papers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.occupants.models import chassis, new_id, utcnow
from services.occupants.movein import events
from services.occupants.movein.tables import (
    MoveIn,
    MoveInBatch,
    MoveInDefect,
    MoveInDocument,
    MoveInRecord,
    MoveInSlot,
)
from services.occupants.contacts import normalise_phone
from services.occupants.people.rules import start_occupancy
from services.occupants.people.tables import Person
from services.occupants.places.tables import Site, Unit
from shared.roles import CS_SUPERVISOR, CUSTOMER_SERVICE, MANAGERS, TECHNICIAN
from shared import audit, policy
from shared.bus.outbox import record_many
from shared.db import aware
from shared.problems import Problem, unprocessable
from shared.workflow import Step, Workflow

CS = frozenset(CUSTOMER_SERVICE)
INSPECTORS = CS | {TECHNICIAN}
SUPERVISORS = frozenset({*MANAGERS, CS_SUPERVISOR})

MOVE_IN = Workflow("move-in", "booked", [
    Step("booked", "check_in", "checked_in", roles=CS),
    Step("checked_in", "verify_identity", "identity_verified", roles=CS),
    Step("identity_verified", "sign_agreements", "agreements_signed", roles=CS),
    Step("agreements_signed", "request_fees", "fees_requested", roles=CS),
    # Taken by billing's ChargesSettled, never by a person: no endpoint offers it.
    Step("fees_requested", "settle_fees", "fees_paid"),
    Step("fees_paid", "begin_inspection", "joint_inspection", roles=INSPECTORS),
    Step("joint_inspection", "accept", "accepted", roles=SUPERVISORS),
    Step("joint_inspection", "fail_inspection", "inspection_failed", roles=INSPECTORS),
    Step("inspection_failed", "open_rectification", "rectification_open", roles=CS),
    Step("rectification_open", "begin_reinspection", "reinspection", roles=INSPECTORS),
    Step("reinspection", "accept", "accepted", roles=SUPERVISORS),
    Step("reinspection", "fail_inspection", "inspection_failed", roles=INSPECTORS),
    Step("accepted", "archive", "archived", roles=SUPERVISORS),
    # The occupant calls the appointment off, or does not come: before the papers are checked only.
    Step("booked", "cancel", "cancelled", roles=CS),
    Step("checked_in", "cancel", "cancelled", roles=CS),
], final=("archived", "cancelled"))

# A unit has one move-in under way at a time; an accepted one has handed its keys over (the unique index
# ix_move_ins_unit_under_way names these states too).
DONE = ("accepted", "archived", "cancelled")
# Papers are shown at the counter, before the identity check closes the file.
DOCUMENTS_OPEN = ("booked", "checked_in")

APPLICANT_TYPES = ("owner", "agent", "organization")
OCCUPANCY_ROLES = ("owner", "tenant")
DOCUMENT_KINDS = ("id_card", "move_in_notice", "purchase_contract", "lease", "principal_id",
                  "letter_of_authority", "organization_proof")
AGREEMENTS = ("provisional_management_covenant", "decoration_agreement", "fee_collection_agreement",
              "fire_safety_responsibility_letter")
HANDBOOKS = ("owner_handbook", "decoration_handbook", "fire_rules", "evacuation_map")
RECORD_KINDS = ("registration_form", "materials_sign_off", "entrusted_services", "move_in_charges",
                "inspection_sign_off", "key_receipt")

FEE_ITEMS = policy.define("movein.fee_items", [
    {"item": "management_fee", "amount": "", "description": "物业管理费 Management fee, first period"},
    {"item": "water_electricity_float", "amount": "", "description": "水电周转金 Water and electricity float"},
    {"item": "property_deposit", "amount": "", "description": "物业保证金 Property deposit"},
], "Charges asked of billing at move-in; an empty amount is priced by billing from its rates (BIL-1).")
CURRENCY = policy.define("movein.currency", "CNY", "Currency of the move-in charges (X-6).")
RECTIFICATION_DAYS = policy.define("movein.rectification_days", 15,
                                   "Days to rectify a defect found at a move-in inspection.")
NOTARISED_AUTHORITY = policy.define("movein.notarised_authority_required", False,
                                    "Whether an agent's letter of authority (委托书) must be notarised.")


# -- booking and papers -------------------------------------------------------------------------------------


def book(session: Session, unit: Unit, *, actor: str, person_id: str, applicant_type: str, occupancy_role: str,
         agent_name: str = "", appointment_at: datetime | None = None, slot_id: str | None = None,
         reason: str = "") -> MoveIn:
    """An appointment, at a time agreed with the occupant or in a concentrated move-in's slot."""
    person = session.get(Person, person_id)
    if person is None or person.organization_id != unit.organization_id or person.site_id != unit.site_id:
        raise unprocessable("person_id", "No such person at the unit's site.")
    if applicant_type == "agent" and not agent_name.strip():
        raise unprocessable("agent_name", "Name the agent (受托人) who comes for the occupant.")
    under_way = session.scalar(select(MoveIn.id).where(MoveIn.unit_id == unit.id, MoveIn.state.not_in(DONE)))
    if under_way:
        raise Problem(409, "Conflict", f"The unit has a move-in under way ({under_way}).", field="unit_id")
    batch_id = None
    if slot_id is not None:
        if appointment_at is not None:
            raise unprocessable("appointment_at", "The slot gives the appointment; give one or the other.")
        slot = _claim_place(session, unit, slot_id)
        appointment_at, batch_id = aware(slot.starts_at), slot.batch_id
    elif appointment_at is None:
        raise unprocessable("appointment_at", "Give the appointment time or a concentrated move-in slot.")
    move_in = MoveIn(
        organization_id=unit.organization_id, site_id=unit.site_id, unit_id=unit.id, person_id=person_id,
        applicant_type=applicant_type, occupancy_role=occupancy_role, agent_name=agent_name.strip(),
        state=MOVE_IN.initial, appointment_at=appointment_at, batch_id=batch_id, slot_id=slot_id,
        agreements=[], handbooks=[], created_by=actor)
    session.add(move_in)
    session.flush()
    _audit(session, move_in, "book", actor, reason, to_state=move_in.state,
           data={"appointment_at": appointment_at.isoformat(), "slot_id": slot_id})
    return move_in


def _claim_place(session: Session, unit: Unit, slot_id: str) -> MoveInSlot:
    """Take a place in the slot; the conditional update keeps two bookings from taking its last place."""
    slot = session.get(MoveInSlot, slot_id)
    batch = slot and session.get(MoveInBatch, slot.batch_id)
    if batch is None or batch.organization_id != unit.organization_id or batch.site_id != unit.site_id:
        raise unprocessable("slot_id", "No such slot at the unit's site.")
    taken = session.execute(update(MoveInSlot).where(MoveInSlot.id == slot_id, MoveInSlot.booked < MoveInSlot.capacity)
                            .values(booked=MoveInSlot.booked + 1).execution_options(synchronize_session=False))
    if taken.rowcount != 1:
        raise Problem(409, "Conflict", f"The slot is full ({slot.capacity} places).", field="slot_id")
    session.refresh(slot)
    return slot


def record_document(session: Session, move_in: MoveIn, *, actor: str, kind: str, reference: str = "",
                    notarised: bool = False) -> MoveInDocument:
    """A paper shown at the counter; the identity check counts what is on file."""
    if move_in.state not in DOCUMENTS_OPEN:
        raise Problem(409, "Conflict", f"The papers were checked already; the move-in is {move_in.state!r}.",
                      field="kind", extra={"state": move_in.state})
    document = MoveInDocument(organization_id=move_in.organization_id, move_in_id=move_in.id, kind=kind,
                              reference=reference, notarised=notarised, recorded_by=actor)
    session.add(document)
    session.flush()
    _audit(session, move_in, "record_document", actor, data={"kind": kind, "notarised": notarised})
    return document


def required_documents(session: Session, move_in: MoveIn) -> list[str]:
    """Owner in person: ID, move-in notice (入住通知单), purchase contract or lease; an agent also the
    principal's ID and the letter of authority (委托书, notarised where the site requires it); an organization
    also its proof (单位证明)."""
    required = ["id_card", "move_in_notice", "purchase_contract" if move_in.occupancy_role == "owner" else "lease"]
    if move_in.applicant_type == "agent":
        notarised = bool(policy.value(session, chassis, move_in.organization_id, move_in.site_id,
                                      NOTARISED_AUTHORITY))
        required += ["principal_id", "notarised_letter_of_authority" if notarised else "letter_of_authority"]
    if move_in.applicant_type == "organization":
        required.append("organization_proof")
    return required


def missing_documents(session: Session, move_in: MoveIn) -> list[str]:
    on_file = set()
    for document in session.scalars(select(MoveInDocument).where(MoveInDocument.move_in_id == move_in.id)):
        on_file.add(document.kind)
        if document.kind == "letter_of_authority" and document.notarised:
            on_file.add("notarised_letter_of_authority")
    return [kind for kind in required_documents(session, move_in) if kind not in on_file]


# -- the steps ----------------------------------------------------------------------------------------------


def check_in(session: Session, move_in: MoveIn, *, actor: str, roles, household_members: Sequence[dict] = (),
             contact_phone: str = "", emergency_contact: str = "", vehicle_plates: Sequence[str] = (),
             notes: str = "", reason: str = "") -> None:
    """The occupant came; the registration form (住户登记表) is filled in."""
    step = MOVE_IN.step(move_in.state, "check_in", roles)
    if contact_phone:
        try:
            contact_phone = normalise_phone(contact_phone)
        except ValueError as exc:
            raise unprocessable("contact_phone", str(exc)) from None
    _move(session, move_in, step, actor, reason)
    _keep(session, move_in, "registration_form", actor, {
        "household_members": [dict(m) for m in household_members], "contact_phone": contact_phone,
        "emergency_contact": emergency_contact, "vehicle_plates": list(vehicle_plates), "notes": notes})


def cancel(session: Session, move_in: MoveIn, *, actor: str, roles, reason: str) -> None:
    """The appointment is off: its place in a concentrated move-in's slot is given back, and the unit may be
    booked again."""
    step = MOVE_IN.step(move_in.state, "cancel", roles)
    _move(session, move_in, step, actor, reason)
    if move_in.slot_id is not None:
        session.execute(update(MoveInSlot).where(MoveInSlot.id == move_in.slot_id, MoveInSlot.booked > 0)
                        .values(booked=MoveInSlot.booked - 1).execution_options(synchronize_session=False))


def verify_identity(session: Session, move_in: MoveIn, *, actor: str, roles, reason: str = "") -> None:
    step = MOVE_IN.step(move_in.state, "verify_identity", roles)
    missing = missing_documents(session, move_in)
    if missing:
        raise unprocessable("documents", f"Missing: {', '.join(missing)}.", extra={"missing": missing})
    _move(session, move_in, step, actor, reason)


def sign_agreements(session: Session, move_in: MoveIn, *, actor: str, roles, agreements: Sequence[str],
                    handbooks: Sequence[str] = (), entrusted_services: Sequence[str] = (), reason: str = "") -> None:
    """All four agreements signed; the handbooks handed over and the services the occupant entrusts to the
    centre (委托代办) noted."""
    step = MOVE_IN.step(move_in.state, "sign_agreements", roles)
    unsigned = [a for a in AGREEMENTS if a not in agreements]
    if unsigned:
        raise unprocessable("agreements", f"Not signed yet: {', '.join(unsigned)}.", extra={"missing": unsigned})
    move_in.agreements = [a for a in AGREEMENTS if a in agreements]
    move_in.handbooks = [h for h in HANDBOOKS if h in handbooks]
    _move(session, move_in, step, actor, reason)
    _keep(session, move_in, "materials_sign_off", actor,
          {"agreements": move_in.agreements, "handbooks": move_in.handbooks})
    _keep(session, move_in, "entrusted_services", actor, {"services": list(entrusted_services)})


def request_fees(session: Session, move_in: MoveIn, *, actor: str, roles, charges: Sequence[dict] | None = None,
                 reason: str = "") -> None:
    """Ask billing for the move-in charges (the site's default set unless given); the inspection waits
    until billing says they are paid."""
    step = MOVE_IN.step(move_in.state, "request_fees", roles)
    currency = _policy(session, move_in, CURRENCY)
    items = charges if charges is not None else _policy(session, move_in, FEE_ITEMS)
    asked = [{"item": c["item"], "amount": "" if c.get("amount") in (None, "") else str(c["amount"]),
              "currency": currency, "description": c.get("description", "")} for c in items]
    move_in.fees_request_id = new_id()
    _move(session, move_in, step, actor, reason, data={"request_id": move_in.fees_request_id, "charges": asked})
    _publish(session, move_in, events.charges_requested(move_in, asked))


def settle_fees(session: Session, move_in: MoveIn, *, request_id: str, amount_paid: str, currency: str,
                receipt_numbers: Sequence[str]) -> bool:
    """Billing says the move-in charges are paid: the joint inspection may go on. A settlement of another
    request, or one arriving again, changes nothing; answers whether it moved the move-in."""
    if move_in.state != "fees_requested" or move_in.fees_request_id != request_id:
        return False
    step = MOVE_IN.step(move_in.state, "settle_fees")
    settled = {"request_id": request_id, "amount_paid": amount_paid, "currency": currency,
               "receipt_numbers": list(receipt_numbers)}
    _move(session, move_in, step, "billing", "charges settled", data=settled)
    _keep(session, move_in, "move_in_charges", "billing", settled)
    return True


def begin_inspection(session: Session, move_in: MoveIn, *, actor: str, roles, water: Decimal,
                     electricity: Decimal, gas: Decimal | None = None, reason: str = "") -> None:
    """The joint inspection (验房) starts with the opening meter readings, read together with the occupant."""
    step = MOVE_IN.step(move_in.state, "begin_inspection", roles)
    move_in.water_reading, move_in.electricity_reading, move_in.gas_reading = water, electricity, gas
    move_in.readings_at = utcnow()
    move_in.inspection_round = 1
    _move(session, move_in, step, actor, reason, data={
        "water": str(water), "electricity": str(electricity), "gas": None if gas is None else str(gas)})
    _publish(session, move_in, events.opening_readings(move_in))


def fail_inspection(session: Session, move_in: MoveIn, *, actor: str, roles, defects: Sequence[dict],
                    reason: str = "") -> None:
    """The unit is not accepted: each defect is entered on the inspection form (房屋质量验收登记表)."""
    step = MOVE_IN.step(move_in.state, "fail_inspection", roles)
    if not defects:
        raise unprocessable("defects", "A failed inspection lists the defects found.")
    session.add_all(MoveInDefect(organization_id=move_in.organization_id, move_in_id=move_in.id,
                                 inspection_round=move_in.inspection_round, location=d["location"],
                                 description=d["description"], recorded_by=actor) for d in defects)
    _move(session, move_in, step, actor, reason,
          data={"inspection_round": move_in.inspection_round, "defects": len(defects)})


def open_rectification(session: Session, move_in: MoveIn, *, actor: str, roles, deadline_days: int | None = None,
                       reason: str = "") -> None:
    """Each defect of the failed round goes to ticketing as a rectification work order with its deadline."""
    step = MOVE_IN.step(move_in.state, "open_rectification", roles)
    days = deadline_days if deadline_days is not None else int(_policy(session, move_in, RECTIFICATION_DAYS))
    due_at = utcnow() + timedelta(days=days)
    defects = session.scalars(select(MoveInDefect).where(
        MoveInDefect.move_in_id == move_in.id, MoveInDefect.inspection_round == move_in.inspection_round)
        .order_by(MoveInDefect.recorded_at, MoveInDefect.id)).all()
    for defect in defects:
        defect.due_at = due_at
    _move(session, move_in, step, actor, reason, data={"due_at": due_at.isoformat(), "defects": len(defects)})
    _publish(session, move_in, *events.rectifications(move_in, defects))


def begin_reinspection(session: Session, move_in: MoveIn, *, actor: str, roles, reason: str = "") -> None:
    """The repairs are done and checked; the occupant comes to inspect again."""
    step = MOVE_IN.step(move_in.state, "begin_reinspection", roles)
    move_in.inspection_round += 1
    _move(session, move_in, step, actor, reason, data={"inspection_round": move_in.inspection_round})


def accept(session: Session, move_in: MoveIn, *, actor: str, roles, keys: Sequence[dict],
           start_date: date | None = None, reason: str = "") -> None:
    """The occupant accepts the unit (收房) and signs for the keys; from then on they occupy it."""
    step = MOVE_IN.step(move_in.state, "accept", roles)
    unit = session.get(Unit, move_in.unit_id)
    move_in.accepted_at = utcnow()
    start = start_date or move_in.accepted_at.astimezone(ZoneInfo(session.get(Site, move_in.site_id).time_zone)).date()
    occupancy = start_occupancy(session, unit=unit, person_id=move_in.person_id, role=move_in.occupancy_role,
                                start_date=start, share=None, actor=actor)
    keys = [{"kind": k["kind"], "count": k["count"]} for k in keys]
    _move(session, move_in, step, actor, reason, data={"occupancy_id": occupancy.id, "keys": keys})
    defects = session.scalars(select(MoveInDefect).where(MoveInDefect.move_in_id == move_in.id)).all()
    _keep(session, move_in, "inspection_sign_off", actor, {
        "inspection_rounds": move_in.inspection_round, "defects_rectified": len(defects),
        "opening_readings": {"water": _text(move_in.water_reading), "electricity": _text(move_in.electricity_reading),
                             "gas": _text(move_in.gas_reading)}})
    _keep(session, move_in, "key_receipt", actor, {"keys": keys, "signed_by": move_in.person_id})
    _publish(session, move_in, events.accepted(move_in, keys, actor))


def archive(session: Session, move_in: MoveIn, *, actor: str, roles, reason: str = "") -> None:
    """The papers are filed (资料归档)."""
    _move(session, move_in, MOVE_IN.step(move_in.state, "archive", roles), actor, reason)


def history(session: Session, move_in: MoveIn) -> list:
    return audit.trail(session, chassis.audit_log, organization_id=move_in.organization_id, entity="move_in",
                       entity_id=move_in.id)


def defects_of(session: Session, move_in: MoveIn) -> list[MoveInDefect]:
    return session.scalars(select(MoveInDefect).where(MoveInDefect.move_in_id == move_in.id)
                           .order_by(MoveInDefect.inspection_round, MoveInDefect.recorded_at, MoveInDefect.id)).all()


# -- inside ------------------------------------------------------------------------------------------------


def _move(session: Session, move_in: MoveIn, step: Step, actor: str, reason: str, data: dict | None = None) -> None:
    """Take the step only from the state it was read in: of two requests racing on one move-in, the second
    finds it moved on and answers 409 instead of repeating the step's effects."""
    previous = move_in.state
    moved = session.execute(update(MoveIn).where(MoveIn.id == move_in.id, MoveIn.state == previous)
                            .values(state=step.target, updated_at=utcnow()))
    if moved.rowcount != 1:
        raise Problem(409, "Conflict", "The move-in changed meanwhile; read it again.", field="action")
    _audit(session, move_in, step.action, actor, reason, previous, step.target, data)


def _audit(session: Session, move_in: MoveIn, action: str, actor: str, reason: str = "",
           from_state: str | None = None, to_state: str | None = None, data: dict | None = None) -> None:
    audit.record_for(session, chassis.audit_log, move_in, entity="move_in", action=action, actor=actor,
                     from_state=from_state, to_state=to_state, reason=reason, data=data)


def _keep(session: Session, move_in: MoveIn, kind: str, actor: str, details: dict) -> None:
    session.add(MoveInRecord(organization_id=move_in.organization_id, move_in_id=move_in.id, kind=kind,
                             details=details, recorded_by=actor))


def _publish(session: Session, move_in: MoveIn, *payloads) -> None:
    if payloads:
        record_many(session, chassis.outbox, payloads, organization_id=move_in.organization_id)


def _policy(session: Session, move_in: MoveIn, setting: policy.Setting):
    return policy.value(session, chassis, move_in.organization_id, move_in.site_id, setting)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


