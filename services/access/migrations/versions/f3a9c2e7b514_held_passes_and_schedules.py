"""held passes and pass schedules

Revision ID: f3a9c2e7b514
Revises: e8b1c6d2f4a7
Create Date: 2026-12-01 18:10:00.000000

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = 'f3a9c2e7b514'
down_revision: Union[str, Sequence[str], None] = 'e8b1c6d2f4a7'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column('passes', sa.Column('schedule', sa.JSON(), nullable=True))
    op.create_table(
        'held_passes',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('organization_id', sa.String(length=36), nullable=False),
        sa.Column('site_id', sa.String(length=36), nullable=False),
        sa.Column('unit_id', sa.String(length=36), nullable=True),
        sa.Column('person_id', sa.String(length=36), nullable=True),
        sa.Column('holder_name', sa.String(length=200), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('source', sa.String(length=20), nullable=False),
        sa.Column('source_id', sa.String(length=36), nullable=False),
        sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
        sa.Column('valid_until', sa.DateTime(timezone=True), nullable=False),
        sa.Column('schedule', sa.JSON(), nullable=True),
        sa.Column('reason', sa.String(length=400), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('pass_id', sa.String(length=36), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    for column in ('organization_id', 'site_id', 'person_id', 'source_id'):
        op.create_index(op.f(f'ix_held_passes_{column}'), 'held_passes', [column], unique=False)


def downgrade() -> None:
    for column in ('organization_id', 'site_id', 'person_id', 'source_id'):
        op.drop_index(op.f(f'ix_held_passes_{column}'), table_name='held_passes')
    op.drop_table('held_passes')
    op.drop_column('passes', 'schedule')
