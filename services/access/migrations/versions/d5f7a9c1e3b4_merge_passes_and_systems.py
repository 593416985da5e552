"""merge passes and systems

Revision ID: d5f7a9c1e3b4
Revises: b2d4f6a8c0e2, c4e7a19b2d53
Create Date: 2026-12-01 16:58:00.000000

"""
from typing import Sequence, Union


# revision identifiers, used by Alembic.
revision: str = 'd5f7a9c1e3b4'
down_revision: Union[str, Sequence[str], None] = ('b2d4f6a8c0e2', 'c4e7a19b2d53')
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """One head again."""


def downgrade() -> None:
    """Two heads again."""
