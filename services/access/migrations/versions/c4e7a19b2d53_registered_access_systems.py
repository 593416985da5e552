"""Registered access-control systems: door mapping, sync state per credential, reported entries

Revision ID: c4e7a19b2d53
Revises: a1c3e5d70b01
Create Date: 2026-12-01 16:44:16.060734

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'c4e7a19b2d53'
down_revision: Union[str, Sequence[str], None] = 'a1c3e5d70b01'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('access_systems',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('adapter', sa.String(length=20), nullable=False),
    sa.Column('base_url', sa.String(length=500), nullable=False),
    sa.Column('secret', sa.String(length=200), nullable=False),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('disabled_reason', sa.String(length=300), nullable=False),
    sa.Column('last_event_serial', sa.BigInteger(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_systems'))
    )
    with op.batch_alter_table('access_systems', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_systems_organization_id'), ['organization_id'], unique=False)

    op.create_table('access_door_events',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('system_id', sa.String(length=36), nullable=False),
    sa.Column('serial_no', sa.String(length=64), nullable=False),
    sa.Column('pass_id', sa.String(length=36), nullable=False),
    sa.Column('credential', sa.String(length=200), nullable=False),
    sa.Column('door_id', sa.String(length=36), nullable=False),
    sa.Column('system_door_id', sa.String(length=64), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('outcome', sa.String(length=8), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['system_id'], ['access_systems.id'], name=op.f('fk_access_door_events_system_id_access_systems'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_door_events')),
    sa.UniqueConstraint('system_id', 'serial_no', name=op.f('uq_access_door_events_system_id'))
    )
    with op.batch_alter_table('access_door_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_door_events_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index('ix_access_door_events_pass', ['pass_id', 'occurred_at'], unique=False)

    op.create_table('access_sync_states',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('system_id', sa.String(length=36), nullable=False),
    sa.Column('credential', sa.String(length=200), nullable=False),
    sa.Column('pass_id', sa.String(length=36), nullable=False),
    sa.Column('action', sa.String(length=10), nullable=False),
    sa.Column('grant', sa.JSON(), nullable=False),
    sa.Column('change_id', sa.String(length=36), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['system_id'], ['access_systems.id'], name=op.f('fk_access_sync_states_system_id_access_systems'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_sync_states')),
    sa.UniqueConstraint('system_id', 'credential', name=op.f('uq_access_sync_states_system_id'))
    )
    with op.batch_alter_table('access_sync_states', schema=None) as batch_op:
        batch_op.create_index('ix_access_sync_states_next_attempt_at', ['next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_sync_states_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_sync_states_pass_id'), ['pass_id'], unique=False)

    op.create_table('access_system_doors',
    sa.Column('system_id', sa.String(length=36), nullable=False),
    sa.Column('door_id', sa.String(length=36), nullable=False),
    sa.Column('system_door_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['system_id'], ['access_systems.id'], name=op.f('fk_access_system_doors_system_id_access_systems'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('system_id', 'door_id', name=op.f('pk_access_system_doors')),
    sa.UniqueConstraint('system_id', 'system_door_id', name=op.f('uq_access_system_doors_system_id'))
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('access_system_doors')
    with op.batch_alter_table('access_sync_states', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_sync_states_pass_id'))
        batch_op.drop_index(batch_op.f('ix_access_sync_states_organization_id'))
        batch_op.drop_index('ix_access_sync_states_next_attempt_at')

    op.drop_table('access_sync_states')
    with op.batch_alter_table('access_door_events', schema=None) as batch_op:
        batch_op.drop_index('ix_access_door_events_pass')
        batch_op.drop_index(batch_op.f('ix_access_door_events_organization_id'))

    op.drop_table('access_door_events')
    with op.batch_alter_table('access_systems', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_systems_organization_id'))

    op.drop_table('access_systems')
