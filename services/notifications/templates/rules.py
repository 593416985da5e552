"""Rendering in a sandbox (NTF-2): a template may only read the data it is given, a name it lacks is an
error rather than an empty string, and a failed render yields no text at all, so half a message is never sent."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.notifications.models import chassis
from services.notifications.templates.catalogue import BUILT_IN, sample
from services.notifications.templates.tables import Template
from shared import audit
from shared.problems import unprocessable

_TEXT = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


class RenderFailed(Exception):
    """The template could not be rendered with the data: the reason is recorded, nothing is sent."""


@dataclass(frozen=True)
class Version:
    kind: str
    language: str
    version: int
    subject: str
    body: str


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


@functools.lru_cache(maxsize=512)
def _compiled(source: str):
    return _TEXT.from_string(source)


def render_text(source: str, data: dict) -> str:
    try:
        return _compiled(source).render(data)
    except TemplateError as exc:
        raise RenderFailed(f"{type(exc).__name__}: {exc}") from exc
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise RenderFailed(f"{type(exc).__name__}: {exc}") from exc


def render(version: Version, data: dict) -> Rendered:
    return Rendered(render_text(version.subject, data).strip(), render_text(version.body, data))


def built_in(kind: str, language: str) -> Version:
    subject, body = BUILT_IN[kind][1][language]
    return Version(kind, language, 0, subject, body)


def current(session: Session, organization_id: str, kind: str, language: str) -> Version:
    """The organization's newest version of the template, else the built-in one."""
    row = session.scalars(select(Template).where(
        Template.organization_id == organization_id, Template.kind == kind, Template.language == language)
        .order_by(Template.version.desc()).limit(1)).first()
    if row is None:
        return built_in(kind, language)
    return Version(kind, language, row.version, row.subject, row.body)


def check(subject: str, body: str, data: dict) -> Rendered:
    """Render with the data, or 422 naming the part that fails."""
    try:
        rendered_subject = render_text(subject, data)
    except RenderFailed as exc:
        raise unprocessable("subject", str(exc)) from exc
    try:
        return Rendered(rendered_subject.strip(), render_text(body, data))
    except RenderFailed as exc:
        raise unprocessable("body", str(exc)) from exc


def add_version(session: Session, organization_id: str, *, kind: str, language: str, subject: str, body: str,
                actor: str) -> Template:
    """A new version, refused unless it renders with the kind's sample data (the data real causes carry)."""
    check(subject, body, sample(kind))
    latest = session.scalar(select(func.max(Template.version)).where(
        Template.organization_id == organization_id, Template.kind == kind, Template.language == language)) or 0
    row = Template(id=str(uuid.uuid4()), organization_id=organization_id, kind=kind, language=language,
                   version=latest + 1, subject=subject, body=body, created_by=actor,
                   created_at=datetime.now(timezone.utc))
    session.add(row)
    audit.record(session, chassis.audit_log, organization_id=organization_id, entity="template", entity_id=row.id,
                 action="add_version", actor=actor, to_state=str(row.version),
                 data={"kind": kind, "language": language})
    return row
