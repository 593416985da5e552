"""The chassis' own tables, added to every service's metadata and so to its migrations."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

# SQLite only auto-increments INTEGER PRIMARY KEY.
_BigId = BigInteger().with_variant(Integer(), "sqlite")


@dataclass(frozen=True)
class ChassisTables:
    outbox: Table
    inbox: Table
    idempotency_keys: Table
    audit_log: Table
    policies: Table


def add_chassis_tables(metadata: MetaData) -> ChassisTables:
    outbox = Table(
        "outbox",
        metadata,
        Column("id", _BigId, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("event_type", String(120), nullable=False),
        # The serialized psp.events.v1.Envelope.
        Column("envelope", LargeBinary, nullable=False),
        # W3C trace context of the writing request, carried into the AMQP headers.
        Column("trace_headers", JSON, nullable=False, default=dict),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("published_at", DateTime(timezone=True)),
        Column("attempts", Integer, nullable=False, default=0),
        Column("next_attempt_at", DateTime(timezone=True)),
        Column("last_error", Text),
    )
    pending = outbox.c.published_at.is_(None)
    Index("ix_outbox_pending", outbox.c.id, postgresql_where=pending, sqlite_where=pending)
    inbox = Table(
        "inbox",
        metadata,
        Column("message_id", String(36), primary_key=True),
        Column("event_type", String(120), nullable=False),
        Column("handled_at", DateTime(timezone=True), nullable=False, index=True),
    )
    idempotency_keys = Table(
        "idempotency_keys",
        metadata,
        Column("organization_id", String(36), primary_key=True),
        Column("key", String(200), primary_key=True),
        Column("request_fingerprint", String(64), nullable=False),
        Column("status_code", Integer, nullable=False),
        Column("response_body", LargeBinary, nullable=False),
        Column("content_type", String(100), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    )
    audit_log = Table(
        "audit_log",
        metadata,
        Column("id", _BigId, primary_key=True, autoincrement=True),
        Column("organization_id", String(36), nullable=False),
        Column("site_id", String(36)),
        Column("entity", String(60), nullable=False),
        Column("entity_id", String(36), nullable=False),
        Column("action", String(60), nullable=False),
        Column("from_state", String(60)),
        Column("to_state", String(60)),
        Column("actor", String(200), nullable=False),
        Column("reason", Text, nullable=False, default=""),
        Column("data", JSON, nullable=False, default=dict),
        Column("at", DateTime(timezone=True), nullable=False),
    )
    Index("ix_audit_log_entity", audit_log.c.organization_id, audit_log.c.entity, audit_log.c.entity_id)
    policies = Table(
        "policies",
        metadata,
        Column("organization_id", String(36), primary_key=True),
        # "" for the organization's own value; a site id for that site's override.
        Column("site_id", String(36), primary_key=True),
        Column("key", String(80), primary_key=True),
        Column("value", JSON, nullable=False),
        Column("updated_by", String(200), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
    )
    return ChassisTables(outbox=outbox, inbox=inbox, idempotency_keys=idempotency_keys, audit_log=audit_log,
                         policies=policies)
