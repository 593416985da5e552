"""tickets: categories and routing, per-site numbers, tickets with comments and attachments; units read model

Revision ID: tkt_core_01
Revises: 44de3395928d
Create Date: 2026-12-01 15:13:25.843095

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'tkt_core_01'
down_revision: Union[str, Sequence[str], None] = '44de3395928d'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('ticket_categories',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('parent_id', sa.String(length=36), nullable=True),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('department', sa.String(length=20), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('updated_by', sa.String(length=200), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['ticket_categories.id'], name=op.f('fk_ticket_categories_parent_id_ticket_categories')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_categories')),
    sa.UniqueConstraint('organization_id', 'code', name=op.f('uq_ticket_categories_organization_id'))
    )
    with op.batch_alter_table('ticket_categories', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_categories_organization_id'), ['organization_id'], unique=False)

    op.create_table('ticket_counters',
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('prefix', sa.String(length=10), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('site_id', 'year', name=op.f('pk_ticket_counters'))
    )
    op.create_table('units',
    sa.Column('unit_id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('building_id', sa.String(length=36), nullable=False),
    sa.Column('floor', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('state', sa.String(length=40), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('unit_id', name=op.f('pk_units'))
    )
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_units_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_units_site_id'), ['site_id'], unique=False)

    op.create_table('tickets',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('type', sa.String(length=30), nullable=False),
    sa.Column('tier', sa.String(length=20), nullable=True),
    sa.Column('emergency', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=30), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('category_id', sa.String(length=36), nullable=True),
    sa.Column('department', sa.String(length=20), nullable=False),
    sa.Column('owner_id', sa.String(length=200), nullable=False),
    sa.Column('assignee_id', sa.String(length=200), nullable=True),
    sa.Column('reporter_id', sa.String(length=36), nullable=True),
    sa.Column('contact_name', sa.String(length=200), nullable=False),
    sa.Column('contact_phone', sa.String(length=40), nullable=False),
    sa.Column('anonymous', sa.Boolean(), nullable=False),
    sa.Column('unit_id', sa.String(length=36), nullable=True),
    sa.Column('location', sa.String(length=20), nullable=True),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('about_department', sa.String(length=20), nullable=True),
    sa.Column('source_reference', sa.String(length=100), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('promised_reply_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('requested_resolution_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acceptance', sa.String(length=20), nullable=False),
    sa.Column('acceptance_reference', sa.String(length=200), nullable=False),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('close_reason', sa.String(length=1000), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['category_id'], ['ticket_categories.id'], name=op.f('fk_tickets_category_id_ticket_categories')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tickets')),
    sa.UniqueConstraint('site_id', 'number', name=op.f('uq_tickets_site_id'))
    )
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index('ix_tickets_listed', ['organization_id', 'created_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index('ix_tickets_site_state', ['site_id', 'state'], unique=False)

    op.create_table('ticket_attachments',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('ticket_id', sa.String(length=36), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_key', sa.String(length=300), nullable=False),
    sa.Column('uploaded_by', sa.String(length=200), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_attachments_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_attachments'))
    )
    with op.batch_alter_table('ticket_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_attachments_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ticket_attachments_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('ticket_comments',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('ticket_id', sa.String(length=36), nullable=False),
    sa.Column('visibility', sa.String(length=20), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('author', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_comments_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_comments'))
    )
    with op.batch_alter_table('ticket_comments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_comments_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ticket_comments_ticket_id'), ['ticket_id'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('ticket_comments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_comments_ticket_id'))
        batch_op.drop_index(batch_op.f('ix_ticket_comments_organization_id'))

    op.drop_table('ticket_comments')
    with op.batch_alter_table('ticket_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_attachments_ticket_id'))
        batch_op.drop_index(batch_op.f('ix_ticket_attachments_organization_id'))

    op.drop_table('ticket_attachments')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_site_state')
        batch_op.drop_index(batch_op.f('ix_tickets_owner_id'))
        batch_op.drop_index('ix_tickets_listed')

    op.drop_table('tickets')
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_units_site_id'))
        batch_op.drop_index(batch_op.f('ix_units_organization_id'))

    op.drop_table('units')
    op.drop_table('ticket_counters')
    with op.batch_alter_table('ticket_categories', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_categories_organization_id'))

    op.drop_table('ticket_categories')
