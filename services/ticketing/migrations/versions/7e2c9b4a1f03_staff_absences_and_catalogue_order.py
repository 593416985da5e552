"""staff absences; the catalogue's changes ordered by effective_from

Revision ID: 7e2c9b4a1f03
Revises: d9a3f6b1e7c4
Create Date: 2026-12-01 17:30:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '7e2c9b4a1f03'
down_revision: Union[str, Sequence[str], None] = 'd9a3f6b1e7c4'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('staff_absences',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.String(length=200), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.String(length=1000), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_absences'))
    )
    with op.batch_alter_table('staff_absences', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_absences_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index('ix_staff_absences_site_ends_at', ['site_id', 'ends_at'], unique=False)

    # A row already held counts as changed when it was last written.
    with op.batch_alter_table('repair_catalogue', schema=None) as batch_op:
        batch_op.add_column(sa.Column('effective_from', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE repair_catalogue SET effective_from = updated_at")
    with op.batch_alter_table('repair_catalogue', schema=None) as batch_op:
        batch_op.alter_column('effective_from', existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('repair_catalogue', schema=None) as batch_op:
        batch_op.drop_column('effective_from')

    with op.batch_alter_table('staff_absences', schema=None) as batch_op:
        batch_op.drop_index('ix_staff_absences_site_ends_at')
        batch_op.drop_index(batch_op.f('ix_staff_absences_organization_id'))

    op.drop_table('staff_absences')
