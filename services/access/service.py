from pathlib import Path

from services.access.handlers import handlers
from services.access.models import Base, chassis
from shared.service import Service

SERVICE = Service(
    name="access",
    description="keys, passes and gates (SPEC §5).",
    metadata=Base.metadata,
    tables=chassis,
    handlers=handlers,
    migrations=Path(__file__).parent / "migrations",
)
