"""The organization's token signing keys: one signs, the others still verify until retired (rotation)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from services.access.models import Base, utcnow


class SigningKey(Base):
    __tablename__ = "token_signing_keys"

    # 8 hex digits, carried in every token's protected header.
    kid: Mapped[str] = mapped_column(String(16), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(36), index=True)
    # "signing" (one per organization), "verifying" (rotated out, tokens it signed still verify), "retired".
    state: Mapped[str] = mapped_column(String(10))
    # Raw 32-byte Ed25519 keys. The private key never leaves this service.
    private_key: Mapped[bytes] = mapped_column(LargeBinary)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# One signing key per organization, however many requests race to make the first.
_signing = SigningKey.__table__.c.state == "signing"
Index("uq_token_signing_keys_signing", SigningKey.__table__.c.organization_id, unique=True,
      postgresql_where=_signing, sqlite_where=_signing)
