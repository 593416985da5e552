"""repairs and return visits beside the daily review: one head

Revision ID: d9a3f6b1e7c4
Revises: b7d41e9a3c25, c4e8a1f2b6d9
Create Date: 2026-12-01 16:50:00.000000

"""
from typing import Sequence, Union


# revision identifiers, used by Alembic.
revision: str = 'd9a3f6b1e7c4'
down_revision: Union[str, Sequence[str], None] = ('b7d41e9a3c25', 'c4e8a1f2b6d9')
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
