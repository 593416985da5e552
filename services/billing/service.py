from pathlib import Path

from services.billing.handlers import handlers
from services.billing.models import Base, chassis
from shared.service import Service

SERVICE = Service(
    name="billing",
    description="charges, payments and arrears (SPEC §4).",
    metadata=Base.metadata,
    tables=chassis,
    handlers=handlers,
    migrations=Path(__file__).parent / "migrations",
)
