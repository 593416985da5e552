from pathlib import Path

from services.ticketing.handlers import handlers
from services.ticketing.models import Base, chassis
from shared.service import Service

SERVICE = Service(
    name="ticketing",
    description="every request, one owner, on the clock (SPEC §3).",
    metadata=Base.metadata,
    tables=chassis,
    handlers=handlers,
    migrations=Path(__file__).parent / "migrations",
)
