"""shifts: duty rosters and shift handovers

Revision ID: tkt_shift_02
Revises: d3f8a1c6e2b9
Create Date: 2026-12-01 16:10:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'tkt_shift_02'
down_revision: Union[str, Sequence[str], None] = 'd3f8a1c6e2b9'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('duty_assignments',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('shift', sa.String(length=10), nullable=False),
    sa.Column('user_id', sa.String(length=200), nullable=False),
    sa.Column('assigned_by', sa.String(length=200), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_duty_assignments')),
    sa.UniqueConstraint('site_id', 'day', 'shift', 'user_id', name=op.f('uq_duty_assignments_site_id'))
    )
    op.create_index(op.f('ix_duty_assignments_organization_id'), 'duty_assignments', ['organization_id'], unique=False)
    op.create_index(op.f('ix_duty_assignments_user_id'), 'duty_assignments', ['user_id'], unique=False)
    op.create_table('shift_handovers',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('shift', sa.String(length=10), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('written_by', sa.String(length=200), nullable=False),
    sa.Column('written_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_by', sa.String(length=200), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shift_handovers')),
    sa.UniqueConstraint('site_id', 'day', 'shift', name=op.f('uq_shift_handovers_site_id'))
    )
    op.create_index(op.f('ix_shift_handovers_organization_id'), 'shift_handovers', ['organization_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_shift_handovers_organization_id'), table_name='shift_handovers')
    op.drop_table('shift_handovers')
    op.drop_index(op.f('ix_duty_assignments_user_id'), table_name='duty_assignments')
    op.drop_index(op.f('ix_duty_assignments_organization_id'), table_name='duty_assignments')
    op.drop_table('duty_assignments')
