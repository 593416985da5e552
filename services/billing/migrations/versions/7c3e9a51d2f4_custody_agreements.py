"""custody agreements: the fee share each agreement names

Revision ID: 7c3e9a51d2f4
Revises: a459c24ecaff
Create Date: 2026-12-01 18:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '7c3e9a51d2f4'
down_revision: Union[str, Sequence[str], None] = 'a459c24ecaff'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('custody_agreements',
    sa.Column('unit_id', sa.String(length=36), nullable=False),
    sa.Column('agreement_id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('fee_rate', sa.Numeric(precision=5, scale=4), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('unit_id', name=op.f('pk_custody_agreements'))
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('custody_agreements')
