"""Workflows declared once, as data: state → action → next state, and the roles that may take the step.

The 409 for an illegal step lists the allowed ones, the audit row of each step and the Mermaid diagram in
the docs all come from the one table, so they cannot drift apart.

    MOVE_IN = Workflow("move-in", "booked", [
        Step("booked", "check_in", "checked_in", roles={"cs_specialist"}),
        ...
    ])
    target = MOVE_IN.next(move_in.state, "check_in", roles=caller_roles_at_site)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from shared.problems import Problem


@dataclass(frozen=True)
class Step:
    source: str
    action: str
    target: str
    # Empty: anyone who may see the record may take the step.
    roles: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self):
        object.__setattr__(self, "roles", frozenset(self.roles))


class Workflow:
    def __init__(self, name: str, initial: str, steps: Iterable[Step], final: Iterable[str] = ()):
        self.name = name
        self.initial = initial
        self.steps = tuple(steps)
        self.final = frozenset(final)
        self._by_key = {(s.source, s.action): s for s in self.steps}
        if len(self._by_key) != len(self.steps):
            raise ValueError(f"{name}: a (state, action) pair is declared twice")

    @property
    def states(self) -> list[str]:
        seen = dict.fromkeys([self.initial])
        for step in self.steps:
            seen.setdefault(step.source)
            seen.setdefault(step.target)
        return list(seen)

    @property
    def actions(self) -> list[str]:
        return list(dict.fromkeys(s.action for s in self.steps))

    def allowed(self, state: str) -> list[str]:
        return [s.action for s in self.steps if s.source == state]

    def step(self, state: str, action: str, roles: Iterable[str] | None = None) -> Step:
        """The step `action` takes from `state`; 409 naming the allowed steps if there is none, 403 if the
        caller's roles (at the record's site) may not take it. `roles=None` skips the role check, for steps
        the platform takes itself (an event from another service)."""
        step = self._by_key.get((state, action))
        if step is None:
            allowed = self.allowed(state)
            raise Problem(
                409, "Conflict",
                f"A {self.name} in state {state!r} cannot {action!r}; allowed: "
                f"{', '.join(allowed) if allowed else 'nothing, it is finished'}.",
                field="action", extra={"state": state, "allowed": allowed},
            )
        if roles is not None and step.roles and not step.roles.intersection(roles):
            raise Problem(403, "Forbidden",
                          f"{action!r} needs one of the roles at this site: {', '.join(sorted(step.roles))}.")
        return step

    def mermaid(self) -> str:
        """A state diagram for the docs."""
        lines = ["stateDiagram-v2", f"    [*] --> {self.initial}"]
        lines += [f"    {s.source} --> {s.target}: {s.action}" for s in self.steps]
        lines += [f"    {state} --> [*]" for state in sorted(self.final)]
        return "\n".join(lines)
