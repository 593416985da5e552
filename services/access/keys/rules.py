"""The key register (ACC-1): keys handed over, kept in custody, lent, lost, found; the handover at move-in
signed for. Plain functions over a session; no Flask."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.access.keys.tables import Key, KeyHandover
from services.access.models import chassis, utcnow
from services.access.places.tables import Unit
from shared import audit
from shared.problems import unprocessable
from shared.roles import CUSTOMER_SERVICE, SECURITY_GUARD
from shared.workflow import Step, Workflow

KEEPERS = frozenset({*CUSTOMER_SERVICE, SECURITY_GUARD})
KINDS = ("unit_door", "mailbox", "building_entrance", "common_room", "equipment_room", "other")
KEY = Workflow("key", "in_office", [
    Step("in_office", "hand_over", "with_occupant", roles=KEEPERS),
    # 钥匙托管: the occupant leaves a key with the service centre.
    Step("with_occupant", "take_into_custody", "in_custody", roles=KEEPERS),
    Step("in_custody", "return_to_occupant", "with_occupant", roles=KEEPERS),
    # Taken by a loan (services.access.lending), never directly.
    Step("in_office", "lend", "lent"),
    Step("lent", "take_back", "in_office"),
    *[Step(state, "report_lost", "lost", roles=KEEPERS) for state in ("in_office", "with_occupant", "in_custody", "lent")],
    Step("lost", "find", "in_office", roles=KEEPERS),
    # A move-out flags the keys the occupant still holds (the platform, no role); the office takes them back.
    Step("with_occupant", "flag_outstanding", "outstanding"),
    Step("outstanding", "return", "in_office", roles=KEEPERS),
    Step("outstanding", "report_lost", "lost", roles=KEEPERS),
])
HANDOVER = Workflow("key handover", "awaiting_signature", [
    Step("awaiting_signature", "sign", "signed", roles=KEEPERS),
], final=("signed",))


def register(session: Session, *, organization_id: str, site_id: str, unit: Unit | None, room: str, tag: str,
             kind: str, copies: int, actor: str) -> Key:
    if unit is None and not room.strip():
        raise unprocessable("room", "A key opens a unit or a named common room.")
    key = Key(organization_id=organization_id, site_id=site_id, unit_id=unit.unit_id if unit else None, room=room,
              tag=tag, kind=kind, copies=copies, state=KEY.initial)
    session.add(key)
    session.flush()
    audit.record_for(session, chassis.audit_log, key, entity="key", action="register", actor=actor,
                     to_state=key.state, data={"tag": tag, "kind": kind, "copies": copies})
    return key


def move(session: Session, key: Key, action: str, *, actor: str, roles, reason: str = "",
         holder_person_id: str | None = None, holder_name: str | None = None) -> Key:
    """Take a step of the key's workflow; the holder follows it (the office holds a key in it or lent out)."""
    step = KEY.step(key.state, action, roles)
    if holder_name is not None:
        key.holder_person_id, key.holder_name = holder_person_id, holder_name
    elif step.target in ("in_office", "in_custody"):
        key.holder_person_id, key.holder_name = None, ""
    key.state, key.updated_at = step.target, utcnow()
    audit.record_for(session, chassis.audit_log, key, entity="key", action=action, actor=actor,
                     from_state=step.source, to_state=step.target, reason=reason,
                     data={"holder_person_id": key.holder_person_id, "holder_name": key.holder_name})
    return key


def flag_outstanding(session: Session, organization_id: str, site_id: str, person_id: str, *, reason: str) -> int:
    """The keys the person holds at the site, owed back now that they moved out (ACC-1, ACC-6): each flagged
    `outstanding`, still naming its holder, until the office records it returned or lost. Answers how many."""
    held = session.scalars(select(Key).where(Key.organization_id == organization_id, Key.site_id == site_id,
                                             Key.holder_person_id == person_id, Key.state == "with_occupant")
                           .order_by(Key.id).with_for_update()).all()
    for key in held:
        move(session, key, "flag_outstanding", actor="access", roles=None, reason=reason)
    return len(held)


def hand_over(session: Session, key: Key, *, actor: str, roles, person_id: str, full_name: str,
              reason: str = "") -> Key:
    return move(session, key, "hand_over", actor=actor, roles=roles, reason=reason, holder_person_id=person_id,
                holder_name=full_name)


def record_handover(session: Session, *, organization_id: str, site_id: str, unit_id: str, person_id: str,
                    move_in_id: str, keys: list[dict]) -> KeyHandover | None:
    """The keys a move-in hands over, waiting for the occupant's signature; once per move-in."""
    if session.query(KeyHandover.id).filter_by(move_in_id=move_in_id).first():
        return None
    handover = KeyHandover(organization_id=organization_id, site_id=site_id, unit_id=unit_id, person_id=person_id,
                           move_in_id=move_in_id, keys=keys, state=HANDOVER.initial)
    session.add(handover)
    session.flush()
    audit.record_for(session, chassis.audit_log, handover, entity="key_handover", action="record", actor="access",
                     to_state=handover.state, data={"move_in_id": move_in_id, "keys": keys})
    return handover


def sign_handover(session: Session, handover: KeyHandover, *, actor: str, roles, signed_by: str,
                  signature_reference: str, reason: str = "") -> KeyHandover:
    """The occupant signed for the keys: they enter the register, held by the occupant."""
    step = HANDOVER.step(handover.state, "sign", roles)
    handover.state, handover.signed_by, handover.signature_reference = step.target, signed_by, signature_reference
    handover.signed_at = utcnow()
    unit = session.get(Unit, handover.unit_id)
    for listed in handover.keys:
        key = Key(organization_id=handover.organization_id, site_id=handover.site_id, unit_id=handover.unit_id,
                  room="", tag=f"{unit.number if unit else handover.unit_id[:8]}-{listed['kind']}",
                  kind=listed["kind"] if listed["kind"] in KINDS else "other", copies=listed["count"],
                  state="with_occupant", holder_person_id=handover.person_id, holder_name=signed_by)
        session.add(key)
    audit.record_for(session, chassis.audit_log, handover, entity="key_handover", action="sign", actor=actor,
                     from_state=step.source, to_state=step.target, reason=reason,
                     data={"signed_by": signed_by, "signature_reference": signature_reference})
    return handover
