"""custody: agreements of vacant units, their meter readings, heavy-rain warnings (OCC-6)

Revision ID: occ_custody_02
Revises: aa4dfc40d27e
Create Date: 2026-12-01 14:40:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'occ_custody_02'
down_revision: Union[str, Sequence[str], None] = 'aa4dfc40d27e'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('custody_agreements',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('unit_id', sa.String(length=36), nullable=False),
    sa.Column('owner_id', sa.String(length=36), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('keys_held', sa.Integer(), nullable=False),
    sa.Column('water_start', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('electricity_start', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('fee_rate', sa.Numeric(precision=3, scale=2), nullable=False),
    sa.Column('water_alerted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('electricity_alerted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['persons.id'], name=op.f('fk_custody_agreements_owner_id_persons')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_custody_agreements_site_id_sites')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_custody_agreements_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_custody_agreements'))
    )
    with op.batch_alter_table('custody_agreements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_custody_agreements_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_custody_agreements_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_custody_agreements_site_id'), ['site_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_custody_agreements_unit_id'), ['unit_id'], unique=False)
        batch_op.create_index('uq_custody_agreements_live_unit', ['unit_id'], unique=True,
                              postgresql_where=sa.text("state = 'active'"), sqlite_where=sa.text("state = 'active'"))

    op.create_table('custody_readings',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('agreement_id', sa.String(length=36), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('meter', sa.String(length=20), nullable=False),
    sa.Column('reading', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('used', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('read_by', sa.String(length=200), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agreement_id'], ['custody_agreements.id'], name=op.f('fk_custody_readings_agreement_id_custody_agreements')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_custody_readings_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_custody_readings')),
    sa.UniqueConstraint('agreement_id', 'number', name=op.f('uq_custody_readings_agreement_id'))
    )
    with op.batch_alter_table('custody_readings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_custody_readings_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_custody_readings_site_id'), ['site_id'], unique=False)

    op.create_table('heavy_rain_warnings',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('expected_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expected_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('announced_by', sa.String(length=200), nullable=False),
    sa.Column('announced_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_heavy_rain_warnings_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_heavy_rain_warnings'))
    )
    with op.batch_alter_table('heavy_rain_warnings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_heavy_rain_warnings_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_heavy_rain_warnings_site_id'), ['site_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('heavy_rain_warnings')
    op.drop_table('custody_readings')
    op.drop_table('custody_agreements')
