"""people: persons' details, occupancies, companies' personnel registers, name and phone search

Revision ID: occ_people_02
Revises: aa4dfc40d27e
Create Date: 2026-12-01 14:40:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'occ_people_02'
down_revision: Union[str, Sequence[str], None] = 'aa4dfc40d27e'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# A name's one- and two-character pieces, lower-cased. A GIN index over them answers "name contains q" for
# any q, Chinese names of two characters included, which trigrams (pg_trgm) cannot.
NAME_GRAMS = """
CREATE FUNCTION person_name_grams(name text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT substr(lower(name), i, n)), '{}')
    FROM generate_series(1, char_length(name)) AS i, (VALUES (1), (2)) AS g(n)
    WHERE i + n - 1 <= char_length(name)
$$
"""


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.add_column(sa.Column('birthday', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('emergency_contact_name', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('emergency_contact_phone', sa.String(length=40), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('emergency_contact_relation', sa.String(length=40), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('contact_name', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('id_number', sa.String(length=18), nullable=False, server_default=''))
        batch_op.create_index('ix_persons_site_name', ['site_id', 'full_name', 'id'], unique=False)
        batch_op.create_index('ix_persons_site_phone', ['site_id', 'phone', 'id'], unique=False)

    op.create_table('occupancies',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('unit_id', sa.String(length=36), nullable=False),
    sa.Column('person_id', sa.String(length=36), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('share', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('notice_channels', sa.JSON(), nullable=False),
    sa.Column('end_reason', sa.String(length=20), nullable=True),
    sa.Column('started_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_occupancies_person_id_persons')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_occupancies_site_id_sites')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_occupancies_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_occupancies'))
    )
    with op.batch_alter_table('occupancies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_occupancies_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_occupancies_person_id'), ['person_id'], unique=False)
        batch_op.create_index('ix_occupancies_unit_state', ['unit_id', 'state'], unique=False)

    op.create_table('company_personnel',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('company_id', sa.String(length=36), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=False),
    sa.Column('position', sa.String(length=100), nullable=False),
    sa.Column('id_number', sa.String(length=18), nullable=False),
    sa.Column('pass_needed', sa.Boolean(), nullable=False),
    sa.Column('added_by', sa.String(length=200), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed_by', sa.String(length=200), nullable=True),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['company_id'], ['persons.id'], name=op.f('fk_company_personnel_company_id_persons')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_company_personnel_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_company_personnel'))
    )
    with op.batch_alter_table('company_personnel', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_company_personnel_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_company_personnel_organization_id'), ['organization_id'], unique=False)

    if op.get_bind().dialect.name == 'postgresql':
        op.execute(NAME_GRAMS)
        op.execute('CREATE INDEX ix_persons_name_grams ON persons USING gin (person_name_grams(full_name))')


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX ix_persons_name_grams')
        op.execute('DROP FUNCTION person_name_grams(text)')

    with op.batch_alter_table('company_personnel', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_company_personnel_organization_id'))
        batch_op.drop_index(batch_op.f('ix_company_personnel_company_id'))

    op.drop_table('company_personnel')
    with op.batch_alter_table('occupancies', schema=None) as batch_op:
        batch_op.drop_index('ix_occupancies_unit_state')
        batch_op.drop_index(batch_op.f('ix_occupancies_person_id'))
        batch_op.drop_index(batch_op.f('ix_occupancies_organization_id'))

    op.drop_table('occupancies')
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.drop_index('ix_persons_site_phone')
        batch_op.drop_index('ix_persons_site_name')
        batch_op.drop_column('id_number')
        batch_op.drop_column('contact_name')
        batch_op.drop_column('emergency_contact_relation')
        batch_op.drop_column('emergency_contact_phone')
        batch_op.drop_column('emergency_contact_name')
        batch_op.drop_column('birthday')
