"""The declarative base every billing capability's tables share, the chassis' tables beside them, and the one
money rule of the service (X-6)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import Numeric
from sqlalchemy.orm import DeclarativeBase

from shared.db import new_metadata
from shared.tables import add_chassis_tables


class Base(DeclarativeBase):
    metadata = new_metadata()


chassis = add_chassis_tables(Base.metadata)

CURRENCY = "CNY"
FEN = Decimal("0.01")
# Amounts of money: 12 digits, 2 of them after the point (fen).
Money = Numeric(14, 2)


def to_fen(amount: Decimal) -> Decimal:
    """The service's one rounding rule: to the fen, halves away from zero (四舍五入), as a receipt is written."""
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
