from pathlib import Path

from services.notifications.handlers import handlers
from services.notifications.models import Base, chassis
from shared.service import Service

SERVICE = Service(
    name="notifications",
    description="the right people, in time, on record (SPEC §6).",
    metadata=Base.metadata,
    tables=chassis,
    handlers=handlers,
    migrations=Path(__file__).parent / "migrations",
)
