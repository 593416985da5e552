"""Whether a credential opens a door, as a pure function of what the reader asked and the pass it names.

Reason codes (the `reason` of every answer):
    granted             allow
    unknown_door        the door is not one of the organization's
    unknown_credential  no pass, live or not, holds the credential
    revoked             the pass was revoked (moved out, permit ended, lost, by staff)
    not_yet_valid       before the pass's window
    expired             after the pass's window
    outside_scope       the pass does not name the door or one of its zones
    outside_hours       in the window, but not on the pass's days and hours (a contractor's: the permit's working
                        days and hours, or approved overtime)
    uses_exhausted      a pass with a use limit has been used up
    invalid_token       a scanned QR token that is forged, altered, malformed or signed with a retired key
"""

from __future__ import annotations

from dataclasses import dataclass

from services.access.passes.schedule import Schedule

ALLOW, DENY = "allow", "deny"
REASONS = ("granted", "unknown_door", "unknown_credential", "revoked", "not_yet_valid", "expired",
           "outside_scope", "outside_hours", "uses_exhausted", "invalid_token")


@dataclass(frozen=True, slots=True)
class DoorView:
    site_id: str
    zone_ids: frozenset[str]


@dataclass(frozen=True, slots=True)
class PassView:
    """What a decision needs of a pass; the cache keeps these, not ORM rows."""

    pass_id: str
    site_id: str
    live: bool
    valid_from: float
    valid_until: float
    door_ids: frozenset[str]
    zone_ids: frozenset[str]
    max_uses: int
    schedule: Schedule | None = None

    def opens(self, door_id: str, door: DoorView) -> bool:
        return door.site_id == self.site_id and (door_id in self.door_ids or bool(self.zone_ids & door.zone_ids))


def decide(door_id: str, door: DoorView | None, pass_: PassView | None, now: float) -> str:
    """The reason code; only "granted" opens. Use limits are counted apart (`uses_exhausted`), where the
    uses are stored."""
    if door is None:
        return "unknown_door"
    if pass_ is None:
        return "unknown_credential"
    if not pass_.live:
        return "revoked"
    if now < pass_.valid_from:
        return "not_yet_valid"
    if now >= pass_.valid_until:
        return "expired"
    if not pass_.opens(door_id, door):
        return "outside_scope"
    if pass_.schedule is not None and not pass_.schedule.allows(now):
        return "outside_hours"
    return "granted"


def token_reason(refused: str) -> str:
    """A refused offline token's reason as a decision's: its own window, or not ours."""
    return refused if refused in ("expired", "not_yet_valid") else "invalid_token"


def outcome_of(reason: str) -> str:
    return ALLOW if reason == "granted" else DENY
