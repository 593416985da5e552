"""sla: sites' calendars and staff as read models; deadlines with their firing index; policy changes seen

Revision ID: tkt_sla_01
Revises: 44de3395928d
Create Date: 2026-12-01 15:20:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'tkt_sla_01'
down_revision: Union[str, Sequence[str], None] = '44de3395928d'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('sla_site_calendars',
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('reception_hours', sa.JSON(), nullable=False),
    sa.Column('holiday_overrides', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('site_id', name=op.f('pk_sla_site_calendars'))
    )
    op.create_index(op.f('ix_sla_site_calendars_organization_id'), 'sla_site_calendars', ['organization_id'], unique=False)
    op.create_table('sla_staff',
    sa.Column('member_id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.String(length=200), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('reachable', sa.Boolean(), nullable=False),
    sa.Column('site_roles', sa.JSON(), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('member_id', name=op.f('pk_sla_staff'))
    )
    op.create_index(op.f('ix_sla_staff_organization_id'), 'sla_staff', ['organization_id'], unique=False)
    op.create_index(op.f('ix_sla_staff_user_id'), 'sla_staff', ['user_id'], unique=False)
    op.create_table('sla_deadlines',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('ticket_id', sa.String(length=36), nullable=False),
    sa.Column('ticket_number', sa.String(length=40), nullable=False),
    sa.Column('owner_id', sa.String(length=200), nullable=True),
    sa.Column('stage', sa.String(length=30), nullable=False),
    sa.Column('clock', sa.String(length=10), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('warn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('next_fire_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paused_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paused_seconds', sa.Float(), nullable=False),
    sa.Column('pauses', sa.Integer(), nullable=False),
    sa.Column('warned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('breached_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('met_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_deadlines')),
    sa.UniqueConstraint('ticket_id', 'stage', name=op.f('uq_sla_deadlines_ticket_id'))
    )
    op.create_index('ix_sla_deadlines_next_fire_at', 'sla_deadlines', ['next_fire_at'], unique=False)
    op.create_index(op.f('ix_sla_deadlines_organization_id'), 'sla_deadlines', ['organization_id'], unique=False)
    op.create_table('sla_policy_changes_seen',
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('organization_id', 'site_id', 'key', name=op.f('pk_sla_policy_changes_seen'))
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('sla_policy_changes_seen')
    op.drop_index(op.f('ix_sla_deadlines_organization_id'), table_name='sla_deadlines')
    op.drop_index('ix_sla_deadlines_next_fire_at', table_name='sla_deadlines')
    op.drop_table('sla_deadlines')
    op.drop_index(op.f('ix_sla_staff_user_id'), table_name='sla_staff')
    op.drop_index(op.f('ix_sla_staff_organization_id'), table_name='sla_staff')
    op.drop_table('sla_staff')
    op.drop_index(op.f('ix_sla_site_calendars_organization_id'), table_name='sla_site_calendars')
    op.drop_table('sla_site_calendars')
