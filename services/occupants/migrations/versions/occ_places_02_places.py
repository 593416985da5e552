"""places: site calendars, building floors, import jobs

Revision ID: occ_places_02
Revises: aa4dfc40d27e
Create Date: 2026-12-01 14:40:00.000000

"""
import json
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'occ_places_02'
down_revision: Union[str, Sequence[str], None] = 'aa4dfc40d27e'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# Sites registered before calendars existed get SPEC X-4's defaults.
DEFAULT_HOURS = json.dumps(
    [{"weekday": d, "opens": "08:30", "closes": "18:00"} for d in range(1, 6)]
    + [{"weekday": d, "opens": "09:00", "closes": "17:00"} for d in (6, 7)]
)


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), nullable=False,
                                      server_default='Asia/Shanghai'))
        batch_op.add_column(sa.Column('reception_hours', sa.JSON(), nullable=False, server_default=DEFAULT_HOURS))
        batch_op.add_column(sa.Column('holiday_overrides', sa.JSON(), nullable=False, server_default='[]'))

    with op.batch_alter_table('buildings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('floors_above_ground', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('floors_below_ground', sa.Integer(), nullable=True))

    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.create_index('ix_units_site_state', ['site_id', 'state'], unique=False)

    op.create_table('import_jobs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('format', sa.String(length=10), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('total_rows', sa.Integer(), nullable=False),
    sa.Column('processed_rows', sa.Integer(), nullable=False),
    sa.Column('problem_count', sa.Integer(), nullable=False),
    sa.Column('buildings_created', sa.Integer(), nullable=False),
    sa.Column('units_created', sa.Integer(), nullable=False),
    sa.Column('uploaded_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claim', sa.String(length=36), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_import_jobs_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_jobs'))
    )
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_jobs_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_import_jobs_site_id'), ['site_id'], unique=False)
        batch_op.create_index('ix_import_jobs_state', ['state', 'created_at'], unique=False)

    op.create_table('import_problems',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('job_id', sa.String(length=36), nullable=False),
    sa.Column('row', sa.Integer(), nullable=False),
    sa.Column('column', sa.String(length=40), nullable=False),
    sa.Column('value', sa.String(length=100), nullable=False),
    sa.Column('message', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['import_jobs.id'], name=op.f('fk_import_problems_job_id_import_jobs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_problems'))
    )
    with op.batch_alter_table('import_problems', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_problems_job_id'), ['job_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('import_problems', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_problems_job_id'))

    op.drop_table('import_problems')
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_import_jobs_state')
        batch_op.drop_index(batch_op.f('ix_import_jobs_site_id'))
        batch_op.drop_index(batch_op.f('ix_import_jobs_organization_id'))

    op.drop_table('import_jobs')
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.drop_index('ix_units_site_state')

    with op.batch_alter_table('buildings', schema=None) as batch_op:
        batch_op.drop_column('floors_below_ground')
        batch_op.drop_column('floors_above_ground')

    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_column('holiday_overrides')
        batch_op.drop_column('reception_hours')
        batch_op.drop_column('time_zone')
