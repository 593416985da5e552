"""The declarative base every access capability's tables share, and the chassis' tables beside them."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy.orm import DeclarativeBase

from shared.db import new_metadata
from shared.tables import add_chassis_tables


class Base(DeclarativeBase):
    metadata = new_metadata()


chassis = add_chassis_tables(Base.metadata)


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
