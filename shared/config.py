"""Configuration from environment variables.

Every setting a process reads is a field here, with its default and meaning; `python -m shared.cli config`
prints them as the table in the README, so the docs cannot drift from the code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    var_dir: Path = Field(
        Path("var"),
        alias="PSP_VAR_DIR",
        description="Folder for the embedded default's SQLite files and file-based bus.",
    )
    database_url: str = Field(
        "",
        alias="DATABASE_URL",
        description="SQLAlchemy URL of the service's database. `<SERVICE>_DATABASE_URL` (e.g. "
        "`OCCUPANTS_DATABASE_URL`) wins over it; with neither, `sqlite:///$PSP_VAR_DIR/<service>.sqlite3`.",
    )
    bus_url: str = Field(
        "",
        alias="BUS_URL",
        description="Broker URL, e.g. `amqp://guest:guest@127.0.0.1:5672/%2F`. Empty: the embedded "
        "file-based bus under `$PSP_VAR_DIR/bus`.",
    )
    bus_heartbeat_seconds: int = Field(
        30,
        alias="BUS_HEARTBEAT_SECONDS",
        ge=0,
        description="AMQP heartbeat interval asked of the broker; 0 turns heartbeats off. Idle workers send "
        "theirs, and a connection silent for two intervals is dropped by either side, so a dead peer "
        "behind a firewall is noticed.",
    )
    bus_prefetch: int = Field(
        256, alias="BUS_PREFETCH", ge=1, description="Unacknowledged deliveries a consumer holds at once."
    )
    bus_batch_size: int = Field(
        128,
        alias="BUS_BATCH_SIZE",
        ge=1,
        description="Events the relay publishes, and deliveries a consumer handles, per database transaction.",
    )
    bus_linger_ms: float = Field(
        2.0,
        alias="BUS_LINGER_MS",
        ge=0,
        description="How long a consumer that has a delivery waits for more before handling them together. "
        "A relay sends a burst at a time; taking it whole costs one transaction instead of several.",
    )
    bus_retry_delays: Annotated[tuple[float, ...], NoDecode] = Field(
        (1.0, 5.0, 30.0),
        alias="BUS_RETRY_DELAYS",
        description="Seconds before each retry of a failed delivery, comma-separated; after the last the "
        "message is dead-lettered.",
    )
    outbox_poll_seconds: float = Field(
        0.25,
        alias="OUTBOX_POLL_SECONDS",
        gt=0,
        description="How often an idle relay looks for unpublished events: one query on a partial index. "
        "On PostgreSQL a committing writer wakes the relay at once (LISTEN/NOTIFY), so this only bounds "
        "the delay after a missed notification; on SQLite it adds up to this much to every event's delivery.",
    )
    outbox_retention_days: int = Field(
        7, alias="OUTBOX_RETENTION_DAYS", ge=1, description="Published outbox rows are pruned after this."
    )
    inbox_retention_days: int = Field(
        30,
        alias="INBOX_RETENTION_DAYS",
        ge=1,
        description="Handled message ids are remembered this long; a redelivery older than that is not "
        "recognised as a duplicate.",
    )
    idempotency_retention_hours: int = Field(
        24, alias="IDEMPOTENCY_RETENTION_HOURS", ge=1, description="How long an `Idempotency-Key` is honoured."
    )
    http_max_body_bytes: int = Field(
        64 * 1024 * 1024,
        alias="HTTP_MAX_BODY_BYTES",
        ge=1024,
        description="Largest request body an API process reads, in bytes; a larger one is refused with 413 "
        "before it is read. Uploads have their own, smaller limits (`FILE_MAX_BYTES`, imports).",
    )
    file_store_dir: str = Field(
        "",
        alias="FILE_STORE_DIR",
        description="Folder the file store keeps uploaded documents in (archives). Empty: `$PSP_VAR_DIR/files`.",
    )
    file_max_bytes: int = Field(
        10 * 1024 * 1024, alias="FILE_MAX_BYTES", ge=1, description="Largest file an upload may carry, in bytes."
    )
    file_allowed_types: Annotated[tuple[str, ...], NoDecode] = Field(
        ("application/pdf", "image/png", "image/jpeg"),
        alias="FILE_ALLOWED_TYPES",
        description="Media types an upload may have, comma-separated; the file's first bytes must show the "
        "declared type. Known: application/pdf, image/png, image/jpeg, image/gif, image/webp, image/tiff.",
    )
    auth_jwt_secret: str = Field(
        "", alias="AUTH_JWT_SECRET", description="HS256 secret that signs and verifies bearer tokens."
    )
    auth_jwt_public_key: str = Field(
        "",
        alias="AUTH_JWT_PUBLIC_KEY",
        description="PEM public key (RS256/ES256) that verifies bearer tokens not signed with the secret "
        "and not naming a key of `AUTH_JWKS_URL`.",
    )
    auth_jwks_url: str = Field(
        "",
        alias="AUTH_JWKS_URL",
        pattern=r"^(https?://.+)?$",
        description="An OpenID Connect provider's JWKS URL (its `jwks_uri`): tokens whose header names a "
        "`kid` are verified (RS256/ES256) against its keys, fetched once and cached; a `kid` not yet seen "
        "fetches them again. Roles the token does not carry come from the staff directory.",
    )
    auth_jwks_refresh_seconds: float = Field(
        10.0,
        alias="AUTH_JWKS_REFRESH_SECONDS",
        ge=0,
        description="Least time between two fetches of the JWKS for an unknown `kid`, so tokens naming "
        "made-up keys cannot flood the provider (a rotated key is picked up at most this late). The keys "
        "are fetched afresh every 5 minutes anyway.",
    )
    auth_jwt_issuer: str = Field(
        "",
        alias="AUTH_JWT_ISSUER",
        description="Required `iss` claim of tokens verified with the provider's keys (JWKS or public "
        "key); empty: not checked. Tokens signed with the secret are the platform's own (`iss` `psp`).",
    )
    auth_jwt_audience: str = Field("psp", alias="AUTH_JWT_AUDIENCE", description="Required `aud` claim.")
    smtp_url: str = Field(
        "",
        alias="SMTP_URL",
        pattern=r"^(smtps?://.+)?$",
        description="Mail server notifications sends e-mail through, e.g. `smtp://user:password@mail:587` "
        "(STARTTLS when the server offers it) or `smtps://…:465`. Empty: e-mail is kept in the outgoing box "
        "readable at `/v1/outgoing` (the embedded default).",
    )
    mail_from: str = Field(
        "notices@psp.local", alias="MAIL_FROM", description="Sender address of the e-mail notifications sends."
    )
    sms_gateway_url: str = Field(
        "",
        alias="SMS_GATEWAY_URL",
        pattern=r"^(https?://.+)?$",
        description="SMS gateway endpoint notifications POSTs each text to. Empty: texts are kept in the "
        "outgoing box readable at `/v1/outgoing` (the embedded default).",
    )
    sms_gateway_secret: str = Field(
        "",
        alias="SMS_GATEWAY_SECRET",
        description="Shared secret with the SMS gateway: signs what is sent to it and verifies the delivery "
        "reports it posts back to `/v1/sms/delivery-reports`.",
    )
    sms_callback_url: str = Field(
        "",
        alias="SMS_CALLBACK_URL",
        description="Where the gateway posts delivery reports, as it reaches notifications' API, e.g. "
        "`https://notifications.example/v1/sms/delivery-reports`.",
    )
    webhook_secret: str = Field(
        "", alias="WEBHOOK_SECRET", description="Signs outbound webhooks (Standard Webhooks `webhook-signature`)."
    )
    channel_timeout_seconds: float = Field(
        10.0, alias="CHANNEL_TIMEOUT_SECONDS", gt=0,
        description="How long a mail server, SMS gateway or webhook may take to answer before the attempt "
        "counts as failed and is retried.",
    )
    log_level: str = Field("INFO", alias="LOG_LEVEL", description="One of DEBUG, INFO, WARNING, ERROR.")
    port: int = Field(8000, alias="PORT", description="Port the API process listens on.")
    worker_port: int = Field(
        9000, alias="WORKER_PORT", description="Port the worker serves `/livez`, `/readyz` and `/metrics` on."
    )

    @field_validator("bus_retry_delays", mode="before")
    @classmethod
    def _split_delays(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(float(part) for part in value.split(",") if part.strip())
        return value

    @field_validator("file_allowed_types", mode="before")
    @classmethod
    def _split_types(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip().lower() for part in value.split(",") if part.strip())
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
        return value.upper()

    def database_url_for(self, service: str) -> str:
        return (
            os.environ.get(f"{service.upper()}_DATABASE_URL")
            or self.database_url
            or f"sqlite:///{self.var_dir.resolve()}/{service}.sqlite3"
        )

    @property
    def files_dir(self) -> Path:
        return Path(self.file_store_dir) if self.file_store_dir else self.var_dir / "files"

    @property
    def embedded_bus(self) -> bool:
        return not self.bus_url


def settings_table() -> str:
    """The README's configuration table, generated from the fields above."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for field in Settings.model_fields.values():
        default = field.default
        if isinstance(default, tuple):
            default = ",".join(d if isinstance(d, str) else f"{d:g}" for d in default)
        rows.append(f"| `{field.alias}` | `{default}` | {field.description} |")
    return "\n".join(rows)
