"""daily review: the sites' days compiled and the long jobs' progress notices

Revision ID: b7d41e9a3c25
Revises: e5a7c2d9f1b4
Create Date: 2026-12-01 16:45:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'b7d41e9a3c25'
down_revision: Union[str, Sequence[str], None] = 'e5a7c2d9f1b4'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('review_compiled',
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('overdue', sa.Integer(), nullable=False),
    sa.Column('forgotten', sa.Integer(), nullable=False),
    sa.Column('compiled_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('site_id', 'day', name=op.f('pk_review_compiled'))
    )
    op.create_index(op.f('ix_review_compiled_organization_id'), 'review_compiled', ['organization_id'], unique=False)
    op.create_table('review_progress_notices',
    sa.Column('ticket_id', sa.String(length=36), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('ticket_id', 'day', name=op.f('pk_review_progress_notices')),
    sa.UniqueConstraint('id', name=op.f('uq_review_progress_notices_id'))
    )
    op.create_index(op.f('ix_review_progress_notices_organization_id'), 'review_progress_notices', ['organization_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_review_progress_notices_organization_id'), table_name='review_progress_notices')
    op.drop_table('review_progress_notices')
    op.drop_index(op.f('ix_review_compiled_organization_id'), table_name='review_compiled')
    op.drop_table('review_compiled')
