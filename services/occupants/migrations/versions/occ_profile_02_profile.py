"""profile: customer profiles, steward assignments, familiarity records (OCC-9)

Revision ID: occ_profile_02
Revises: aa4dfc40d27e
Create Date: 2026-12-01 14:45:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'occ_profile_02'
down_revision: Union[str, Sequence[str], None] = 'aa4dfc40d27e'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('customer_profiles',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('person_id', sa.String(length=36), nullable=False),
    sa.Column('key_customer', sa.Boolean(), nullable=False),
    sa.Column('key_customer_reason', sa.String(length=500), nullable=False),
    sa.Column('silent_customer', sa.Boolean(), nullable=False),
    sa.Column('grade', sa.String(length=20), nullable=True),
    sa.Column('notes', sa.String(length=2000), nullable=False),
    sa.Column('updated_by', sa.String(length=200), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_customer_profiles_person_id_persons')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_customer_profiles_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_profiles')),
    sa.UniqueConstraint('site_id', 'person_id', name=op.f('uq_customer_profiles_site_id'))
    )
    with op.batch_alter_table('customer_profiles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_profiles_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_profiles_person_id'), ['person_id'], unique=False)

    op.create_table('steward_assignments',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('steward', sa.String(length=200), nullable=False),
    sa.Column('building_id', sa.String(length=36), nullable=True),
    sa.Column('unit_id', sa.String(length=36), nullable=True),
    sa.Column('assigned_by', sa.String(length=200), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['building_id'], ['buildings.id'], name=op.f('fk_steward_assignments_building_id_buildings')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_steward_assignments_site_id_sites')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_steward_assignments_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_steward_assignments'))
    )
    with op.batch_alter_table('steward_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_steward_assignments_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index('ix_steward_assignments_site_steward', ['site_id', 'steward'], unique=False)

    op.create_table('familiarity_records',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('unit_id', sa.String(length=36), nullable=False),
    sa.Column('steward', sa.String(length=200), nullable=False),
    sa.Column('known_on', sa.Date(), nullable=False),
    sa.Column('how', sa.String(length=20), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_familiarity_records_site_id_sites')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_familiarity_records_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_familiarity_records'))
    )
    with op.batch_alter_table('familiarity_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_familiarity_records_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_familiarity_records_unit_id'), ['unit_id'], unique=False)
        batch_op.create_index('ix_familiarity_records_site_steward', ['site_id', 'steward', 'unit_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('familiarity_records')
    op.drop_table('steward_assignments')
    op.drop_table('customer_profiles')
