from datetime import datetime, timezone
from pathlib import Path

from psp.occupants.v1.events_pb2 import PersonRegistered
from sqlalchemy import Boolean, DateTime, Integer, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.bus.consumer import Handlers
from shared.db import new_metadata
from shared.service import Service
from shared.tables import add_chassis_tables


class Base(DeclarativeBase):
    metadata = new_metadata()


chassis = add_chassis_tables(Base.metadata)


class Effect(Base):
    __tablename__ = "effects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(String(36), index=True)
    full_name: Mapped[str] = mapped_column(String(200))
    handled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Switch(Base):
    __tablename__ = "switches"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    on: Mapped[bool] = mapped_column(Boolean)


handlers = Handlers("probe")


@handlers.on(PersonRegistered)
def count_effect(session, event):
    fixed = session.scalar(select(Switch.on).where(Switch.name == "fixed"))
    if event.payload.full_name.startswith("FAIL") and not fixed:
        raise RuntimeError("probe handler fault")
    session.add(Effect(person_id=event.payload.person_id, full_name=event.payload.full_name,
                       handled_at=datetime.now(timezone.utc)))


SERVICE = Service(
    name="probe",
    description="test consumer",
    metadata=Base.metadata,
    tables=chassis,
    handlers=handlers,
    migrations=Path(__file__).parent,
)
