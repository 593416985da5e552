"""decoration: applications with their permit, fees and inspection; overtime applications; violations

Revision ID: occ_decoration_02
Revises: aa4dfc40d27e
Create Date: 2026-12-01 14:40:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'occ_decoration_02'
down_revision: Union[str, Sequence[str], None] = 'aa4dfc40d27e'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('decorations',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('unit_id', sa.String(length=36), nullable=False),
    sa.Column('state', sa.String(length=40), nullable=False),
    sa.Column('person_id', sa.String(length=36), nullable=True),
    sa.Column('applicant_kind', sa.String(length=20), nullable=False),
    sa.Column('applicant_name', sa.String(length=200), nullable=False),
    sa.Column('applicant_phone', sa.String(length=40), nullable=False),
    sa.Column('contractor_name', sa.String(length=200), nullable=False),
    sa.Column('works_description', sa.String(length=2000), nullable=False),
    sa.Column('structural_change', sa.Boolean(), nullable=False),
    sa.Column('load_increase', sa.Boolean(), nullable=False),
    sa.Column('letter_of_authority_reference', sa.String(length=200), nullable=False),
    sa.Column('government_approval_reference', sa.String(length=200), nullable=False),
    sa.Column('agreement_reference', sa.String(length=200), nullable=False),
    sa.Column('charges_request_id', sa.String(length=36), nullable=True),
    sa.Column('waste_removal_fee', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('deposit', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount_paid', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('receipt_numbers', sa.JSON(), nullable=False),
    sa.Column('permit_id', sa.String(length=36), nullable=True),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=True),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('working_days', sa.JSON(), nullable=False),
    sa.Column('working_hours', sa.JSON(), nullable=False),
    sa.Column('prohibited_works', sa.JSON(), nullable=False),
    sa.Column('workers', sa.JSON(), nullable=False),
    sa.Column('unit_state_before', sa.String(length=20), nullable=True),
    sa.Column('rectification_items', sa.JSON(), nullable=False),
    sa.Column('refund_request_id', sa.String(length=36), nullable=True),
    sa.Column('deductions', sa.JSON(), nullable=False),
    sa.Column('refund_amount', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_decorations_person_id_persons')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_decorations_site_id_sites')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_decorations_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decorations'))
    )
    with op.batch_alter_table('decorations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_decorations_charges_request_id'), ['charges_request_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_decorations_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_decorations_site_id'), ['site_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_decorations_unit_id'), ['unit_id'], unique=False)
        batch_op.create_index('uq_decorations_unit_in_progress', ['unit_id'], unique=True,
                              postgresql_where=sa.text("state NOT IN ('archived', 'rejected')"),
                              sqlite_where=sa.text("state NOT IN ('archived', 'rejected')"))

    op.create_table('decoration_overtime',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('decoration_id', sa.String(length=36), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('works', sa.String(length=500), nullable=False),
    sa.Column('applied_by', sa.String(length=200), nullable=False),
    sa.Column('decided_by', sa.String(length=200), nullable=False),
    sa.Column('decision_reason', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['decoration_id'], ['decorations.id'], name=op.f('fk_decoration_overtime_decoration_id_decorations')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_decoration_overtime_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decoration_overtime'))
    )
    with op.batch_alter_table('decoration_overtime', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_decoration_overtime_decoration_id'), ['decoration_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_decoration_overtime_organization_id'), ['organization_id'], unique=False)

    op.create_table('decoration_violations',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('decoration_id', sa.String(length=36), nullable=False),
    sa.Column('severity', sa.String(length=20), nullable=False),
    sa.Column('description', sa.String(length=2000), nullable=False),
    sa.Column('observed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reported_by', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['decoration_id'], ['decorations.id'], name=op.f('fk_decoration_violations_decoration_id_decorations')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_decoration_violations_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decoration_violations'))
    )
    with op.batch_alter_table('decoration_violations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_decoration_violations_decoration_id'), ['decoration_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_decoration_violations_organization_id'), ['organization_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('decoration_violations')
    op.drop_table('decoration_overtime')
    op.drop_table('decorations')
