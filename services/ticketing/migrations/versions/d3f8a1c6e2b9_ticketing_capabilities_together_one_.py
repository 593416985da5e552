"""ticketing capabilities together: one head again

Revision ID: d3f8a1c6e2b9
Revises: tkt_core_01, tkt_sla_01
Create Date: 2026-12-01 15:24:34.107573

"""
from typing import Sequence, Union


# revision identifiers, used by Alembic.
revision: str = 'd3f8a1c6e2b9'
down_revision: Union[str, Sequence[str], None] = ('tkt_core_01', 'tkt_sla_01')
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    pass


def downgrade() -> None:
    """Downgrade schema."""
    pass
