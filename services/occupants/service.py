from pathlib import Path

from services.occupants.models import Base, chassis
from shared.service import Service

SERVICE = Service(
    name="occupants",
    description="Sites, buildings, units and the people who occupy them (SPEC §2).",
    metadata=Base.metadata,
    tables=chassis,
    handlers=None,
    migrations=Path(__file__).parent / "migrations",
)
