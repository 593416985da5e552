"""encrypted system secrets

Revision ID: e8b1c6d2f4a7
Revises: d5f7a9c1e3b4
Create Date: 2026-12-01 17:55:00.000000

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from services.access.systems import sealed

# revision identifiers, used by Alembic.
revision: str = 'e8b1c6d2f4a7'
down_revision: Union[str, Sequence[str], None] = 'd5f7a9c1e3b4'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Room for a Fernet token, and every secret already registered encrypted under the first key."""
    with op.batch_alter_table('access_systems') as batch_op:
        batch_op.alter_column('secret', existing_type=sa.String(length=200), type_=sa.String(length=500),
                              existing_nullable=False)
    sealed.seal_all(op.get_bind())


def downgrade() -> None:
    sealed.unseal_all(op.get_bind())
    with op.batch_alter_table('access_systems') as batch_op:
        batch_op.alter_column('secret', existing_type=sa.String(length=500), type_=sa.String(length=200),
                              existing_nullable=False)
