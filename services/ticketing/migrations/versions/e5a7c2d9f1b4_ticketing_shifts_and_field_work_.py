"""ticketing shifts and field work together: one head again

Revision ID: e5a7c2d9f1b4
Revises: tkt_field_02, tkt_shift_02
Create Date: 2026-12-01 16:04:12.017513

"""
from typing import Sequence, Union


# revision identifiers, used by Alembic.
revision: str = 'e5a7c2d9f1b4'
down_revision: Union[str, Sequence[str], None] = ('tkt_field_02', 'tkt_shift_02')
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    pass


def downgrade() -> None:
    """Downgrade schema."""
    pass
