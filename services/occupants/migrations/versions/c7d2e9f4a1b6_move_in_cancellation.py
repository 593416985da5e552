"""move-in cancellation: a cancelled move-in no longer holds its unit

Revision ID: c7d2e9f4a1b6
Revises: b1e0c5a2d7f3
Create Date: 2026-12-01 15:10:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'c7d2e9f4a1b6'
down_revision: Union[str, Sequence[str], None] = 'b1e0c5a2d7f3'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_BEFORE = "state NOT IN ('accepted', 'archived')"
_AFTER = "state NOT IN ('accepted', 'archived', 'cancelled')"


def _unit_under_way(where: str) -> None:
    op.drop_index('ix_move_ins_unit_under_way', table_name='move_ins')
    op.create_index('ix_move_ins_unit_under_way', 'move_ins', ['unit_id'], unique=True,
                    postgresql_where=sa.text(where), sqlite_where=sa.text(where))


def upgrade() -> None:
    _unit_under_way(_AFTER)


def downgrade() -> None:
    _unit_under_way(_BEFORE)
