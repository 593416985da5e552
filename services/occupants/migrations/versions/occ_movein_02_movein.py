"""move-in: move-ins with their papers, defects and records; concentrated move-in batches; spot checks

Revision ID: occ_movein_02
Revises: aa4dfc40d27e
Create Date: 2026-12-01 14:50:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'occ_movein_02'
down_revision: Union[str, Sequence[str], None] = 'aa4dfc40d27e'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('move_in_batches',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_move_in_batches_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_move_in_batches'))
    )
    op.create_index(op.f('ix_move_in_batches_organization_id'), 'move_in_batches', ['organization_id'], unique=False)
    op.create_index(op.f('ix_move_in_batches_site_id'), 'move_in_batches', ['site_id'], unique=False)
    op.create_table('move_in_slots',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('batch_id', sa.String(length=36), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('booked', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['move_in_batches.id'], name=op.f('fk_move_in_slots_batch_id_move_in_batches')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_move_in_slots'))
    )
    op.create_index(op.f('ix_move_in_slots_batch_id'), 'move_in_slots', ['batch_id'], unique=False)
    op.create_index(op.f('ix_move_in_slots_organization_id'), 'move_in_slots', ['organization_id'], unique=False)
    op.create_table('move_ins',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('unit_id', sa.String(length=36), nullable=False),
    sa.Column('person_id', sa.String(length=36), nullable=False),
    sa.Column('applicant_type', sa.String(length=20), nullable=False),
    sa.Column('occupancy_role', sa.String(length=20), nullable=False),
    sa.Column('agent_name', sa.String(length=200), nullable=False),
    sa.Column('state', sa.String(length=40), nullable=False),
    sa.Column('appointment_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('batch_id', sa.String(length=36), nullable=True),
    sa.Column('slot_id', sa.String(length=36), nullable=True),
    sa.Column('agreements', sa.JSON(), nullable=False),
    sa.Column('handbooks', sa.JSON(), nullable=False),
    sa.Column('fees_request_id', sa.String(length=36), nullable=True),
    sa.Column('water_reading', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('electricity_reading', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('gas_reading', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('readings_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('inspection_round', sa.Integer(), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['move_in_batches.id'], name=op.f('fk_move_ins_batch_id_move_in_batches')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_move_ins_person_id_persons')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_move_ins_site_id_sites')),
    sa.ForeignKeyConstraint(['slot_id'], ['move_in_slots.id'], name=op.f('fk_move_ins_slot_id_move_in_slots')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_move_ins_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_move_ins'))
    )
    op.create_index(op.f('ix_move_ins_batch_id'), 'move_ins', ['batch_id'], unique=False)
    op.create_index(op.f('ix_move_ins_fees_request_id'), 'move_ins', ['fees_request_id'], unique=False)
    op.create_index(op.f('ix_move_ins_organization_id'), 'move_ins', ['organization_id'], unique=False)
    op.create_index(op.f('ix_move_ins_person_id'), 'move_ins', ['person_id'], unique=False)
    op.create_index(op.f('ix_move_ins_site_id'), 'move_ins', ['site_id'], unique=False)
    op.create_index(op.f('ix_move_ins_state'), 'move_ins', ['state'], unique=False)
    op.create_index('ix_move_ins_unit_under_way', 'move_ins', ['unit_id'], unique=True, postgresql_where=sa.text("state NOT IN ('accepted', 'archived')"), sqlite_where=sa.text("state NOT IN ('accepted', 'archived')"))
    op.create_table('move_in_defects',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('move_in_id', sa.String(length=36), nullable=False),
    sa.Column('inspection_round', sa.Integer(), nullable=False),
    sa.Column('location', sa.String(length=100), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['move_in_id'], ['move_ins.id'], name=op.f('fk_move_in_defects_move_in_id_move_ins')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_move_in_defects'))
    )
    op.create_index(op.f('ix_move_in_defects_move_in_id'), 'move_in_defects', ['move_in_id'], unique=False)
    op.create_index(op.f('ix_move_in_defects_organization_id'), 'move_in_defects', ['organization_id'], unique=False)
    op.create_table('move_in_documents',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('move_in_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('reference', sa.String(length=200), nullable=False),
    sa.Column('notarised', sa.Boolean(), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['move_in_id'], ['move_ins.id'], name=op.f('fk_move_in_documents_move_in_id_move_ins')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_move_in_documents'))
    )
    op.create_index(op.f('ix_move_in_documents_move_in_id'), 'move_in_documents', ['move_in_id'], unique=False)
    op.create_index(op.f('ix_move_in_documents_organization_id'), 'move_in_documents', ['organization_id'], unique=False)
    op.create_table('move_in_records',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('move_in_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['move_in_id'], ['move_ins.id'], name=op.f('fk_move_in_records_move_in_id_move_ins')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_move_in_records')),
    sa.UniqueConstraint('move_in_id', 'kind', name=op.f('uq_move_in_records_move_in_id'))
    )
    op.create_index(op.f('ix_move_in_records_move_in_id'), 'move_in_records', ['move_in_id'], unique=False)
    op.create_index(op.f('ix_move_in_records_organization_id'), 'move_in_records', ['organization_id'], unique=False)
    op.create_table('move_in_spot_checks',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('ordinal', sa.Integer(), nullable=False),
    sa.Column('move_in_id', sa.String(length=36), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('scheduled_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_by', sa.String(length=200), nullable=False),
    sa.Column('conforming', sa.Boolean(), nullable=True),
    sa.Column('findings', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['move_in_id'], ['move_ins.id'], name=op.f('fk_move_in_spot_checks_move_in_id_move_ins')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_move_in_spot_checks_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_move_in_spot_checks'))
    )
    op.create_index(op.f('ix_move_in_spot_checks_move_in_id'), 'move_in_spot_checks', ['move_in_id'], unique=False)
    op.create_index(op.f('ix_move_in_spot_checks_organization_id'), 'move_in_spot_checks', ['organization_id'], unique=False)
    op.create_index('ix_move_in_spot_checks_site_month', 'move_in_spot_checks', ['site_id', 'month'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_move_in_spot_checks_site_month', table_name='move_in_spot_checks')
    op.drop_index(op.f('ix_move_in_spot_checks_organization_id'), table_name='move_in_spot_checks')
    op.drop_index(op.f('ix_move_in_spot_checks_move_in_id'), table_name='move_in_spot_checks')
    op.drop_table('move_in_spot_checks')
    op.drop_index(op.f('ix_move_in_records_organization_id'), table_name='move_in_records')
    op.drop_index(op.f('ix_move_in_records_move_in_id'), table_name='move_in_records')
    op.drop_table('move_in_records')
    op.drop_index(op.f('ix_move_in_documents_organization_id'), table_name='move_in_documents')
    op.drop_index(op.f('ix_move_in_documents_move_in_id'), table_name='move_in_documents')
    op.drop_table('move_in_documents')
    op.drop_index(op.f('ix_move_in_defects_organization_id'), table_name='move_in_defects')
    op.drop_index(op.f('ix_move_in_defects_move_in_id'), table_name='move_in_defects')
    op.drop_table('move_in_defects')
    op.drop_index('ix_move_ins_unit_under_way', table_name='move_ins', postgresql_where=sa.text("state NOT IN ('accepted', 'archived')"), sqlite_where=sa.text("state NOT IN ('accepted', 'archived')"))
    op.drop_index(op.f('ix_move_ins_state'), table_name='move_ins')
    op.drop_index(op.f('ix_move_ins_site_id'), table_name='move_ins')
    op.drop_index(op.f('ix_move_ins_person_id'), table_name='move_ins')
    op.drop_index(op.f('ix_move_ins_organization_id'), table_name='move_ins')
    op.drop_index(op.f('ix_move_ins_fees_request_id'), table_name='move_ins')
    op.drop_index(op.f('ix_move_ins_batch_id'), table_name='move_ins')
    op.drop_table('move_ins')
    op.drop_index(op.f('ix_move_in_slots_organization_id'), table_name='move_in_slots')
    op.drop_index(op.f('ix_move_in_slots_batch_id'), table_name='move_in_slots')
    op.drop_table('move_in_slots')
    op.drop_index(op.f('ix_move_in_batches_site_id'), table_name='move_in_batches')
    op.drop_index(op.f('ix_move_in_batches_organization_id'), table_name='move_in_batches')
    op.drop_table('move_in_batches')
