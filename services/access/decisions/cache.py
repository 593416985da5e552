"""Each API process keeps its organizations' passes and doors in memory, so a decision costs no query.

The cache holds the organization's change number (services.access.changes) it was built at. At most every
`refresh_seconds` a decision asks the database for the current number, one primary-key read; when it moved,
the cache loads only the passes changed since, and the doors and token keys again. A revocation therefore stops opening doors
through this API within `refresh_seconds` (0.2 s by default) of its commit, in every process.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from services.access.changes import ChangeCounter
from services.access.decisions.rules import DoorView, PassView
from services.access.doors.tables import Door
from services.access.models import chassis, utcnow
from services.access.passes.schedule import Schedule
from services.access.passes.tables import LIVE, Pass
from services.access.tokens import rules as tokens
from shared import policy
from shared.db import aware

REFRESH_SECONDS = 0.2
FORGOTTEN_AFTER = timedelta(days=30)


@dataclass
class OrganizationView:
    version: int = -1
    checked_at: float = 0.0
    passes: dict[tuple[str, str], PassView] = field(default_factory=dict)
    doors: dict[str, DoorView] = field(default_factory=dict)
    # Offline tokens shown to an online reader are checked with these (services.access.tokens).
    token_keys: dict[str, Ed25519PublicKey] = field(default_factory=dict)
    clock_skew: float = 0.0


def pass_view(row) -> PassView:
    return PassView(pass_id=row.id, site_id=row.site_id, live=row.state == LIVE,
                    valid_from=aware(row.valid_from).timestamp(), valid_until=aware(row.valid_until).timestamp(),
                    door_ids=frozenset(row.door_ids), zone_ids=frozenset(row.zone_ids), max_uses=row.max_uses,
                    schedule=Schedule.of(row.schedule))


class PassCache:
    def __init__(self, sessions: sessionmaker, refresh_seconds: float = REFRESH_SECONDS):
        self.sessions = sessions
        self.refresh_seconds = refresh_seconds
        self._views: dict[str, OrganizationView] = {}
        self._lock = threading.Lock()

    def view(self, organization_id: str) -> OrganizationView:
        view = self._views.get(organization_id)
        if view is None or time.monotonic() - view.checked_at >= self.refresh_seconds:
            with self._lock:
                view = self._refresh(organization_id, self._views.get(organization_id) or OrganizationView())
                self._views[organization_id] = view
        return view

    def _refresh(self, organization_id: str, view: OrganizationView) -> OrganizationView:
        checked_at = time.monotonic()
        with self.sessions() as session:
            version = session.scalar(select(ChangeCounter.version)
                                     .where(ChangeCounter.organization_id == organization_id)) or 0
            if version == view.version:
                view.checked_at = checked_at
                return view
            # A new view replaces the old one whole: a decision running meanwhile reads one or the other.
            passes = dict(view.passes)
            changed = select(Pass).where(Pass.organization_id == organization_id, Pass.version > view.version,
                                         Pass.version <= version)
            if view.version < 0:
                # A process's first view skips passes whose window closed long ago: they can open nothing.
                changed = changed.where(Pass.valid_until > utcnow() - FORGOTTEN_AFTER)
            # In change order: a credential revoked and issued again ends with its new pass.
            for row in session.scalars(changed.order_by(Pass.version)):
                passes[(row.credential_kind, row.credential)] = pass_view(row)
            doors = {row.id: DoorView(row.site_id, frozenset(row.zone_ids))
                     for row in session.execute(select(Door.id, Door.site_id, Door.zone_ids)
                                                .where(Door.organization_id == organization_id))}
            token_keys = tokens.public_keys(tokens.verifying_keys(session, organization_id))
            clock_skew = float(policy.value(session, chassis, organization_id, None, tokens.CLOCK_SKEW))
        return OrganizationView(version=version, checked_at=checked_at, passes=passes, doors=doors,
                                token_keys=token_keys, clock_skew=clock_skew)
