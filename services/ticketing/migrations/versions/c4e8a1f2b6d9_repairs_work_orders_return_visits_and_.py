"""repairs work orders return visits and surveys

Revision ID: c4e8a1f2b6d9
Revises: e5a7c2d9f1b4
Create Date: 2026-12-01 16:44:05.579788

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'c4e8a1f2b6d9'
down_revision: Union[str, Sequence[str], None] = 'e5a7c2d9f1b4'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('repair_catalogue',
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('price', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('offered', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('site_id', 'code', name=op.f('pk_repair_catalogue'))
    )
    with op.batch_alter_table('repair_catalogue', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_repair_catalogue_organization_id'), ['organization_id'], unique=False)

    op.create_table('repair_unit_handovers',
    sa.Column('unit_id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('handed_over_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('unit_id', name=op.f('pk_repair_unit_handovers'))
    )
    with op.batch_alter_table('repair_unit_handovers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_repair_unit_handovers_organization_id'), ['organization_id'], unique=False)

    op.create_table('return_visit_samplings',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('drawn', sa.Integer(), nullable=False),
    sa.Column('drawn_by', sa.String(length=200), nullable=False),
    sa.Column('drawn_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_return_visit_samplings')),
    sa.UniqueConstraint('site_id', 'month', name=op.f('uq_return_visit_samplings_site_id'))
    )
    with op.batch_alter_table('return_visit_samplings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_return_visit_samplings_organization_id'), ['organization_id'], unique=False)

    op.create_table('surveys',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('questions', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_surveys')),
    sa.UniqueConstraint('site_id', 'kind', 'period', name=op.f('uq_surveys_site_id'))
    )
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.create_index('ix_surveys_listed', ['organization_id', 'created_at', 'id'], unique=False)

    op.create_table('survey_responses',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('survey_id', sa.String(length=36), nullable=False),
    sa.Column('unit_id', sa.String(length=36), nullable=True),
    sa.Column('person_id', sa.String(length=36), nullable=True),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name=op.f('fk_survey_responses_survey_id_surveys')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_responses')),
    sa.UniqueConstraint('survey_id', 'unit_id', name=op.f('uq_survey_responses_survey_id'))
    )
    with op.batch_alter_table('survey_responses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_survey_responses_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_survey_responses_survey_id'), ['survey_id'], unique=False)

    op.create_table('return_visits',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('ticket_id', sa.String(length=36), nullable=False),
    sa.Column('ticket_number', sa.String(length=40), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('satisfied', sa.Boolean(), nullable=True),
    sa.Column('signature_reference', sa.String(length=200), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('visited_by', sa.String(length=200), nullable=True),
    sa.Column('visited_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sampling_id', sa.String(length=36), nullable=True),
    sa.Column('check_result', sa.String(length=20), nullable=True),
    sa.Column('check_note', sa.Text(), nullable=False),
    sa.Column('checked_by', sa.String(length=200), nullable=True),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['sampling_id'], ['return_visit_samplings.id'], name=op.f('fk_return_visits_sampling_id_return_visit_samplings')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_return_visits_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_return_visits'))
    )
    with op.batch_alter_table('return_visits', schema=None) as batch_op:
        batch_op.create_index('ix_return_visits_listed', ['organization_id', 'due_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_return_visits_sampling_id'), ['sampling_id'], unique=False)
        batch_op.create_index('ix_return_visits_site_visited', ['site_id', 'visited_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_return_visits_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('work_orders',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('ticket_id', sa.String(length=36), nullable=False),
    sa.Column('ticket_number', sa.String(length=40), nullable=False),
    sa.Column('unit_id', sa.String(length=36), nullable=True),
    sa.Column('summary', sa.String(length=200), nullable=False),
    sa.Column('emergency', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('technician_id', sa.String(length=200), nullable=True),
    sa.Column('dispatched_by', sa.String(length=200), nullable=True),
    sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('preferred_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paperwork_pending', sa.Boolean(), nullable=False),
    sa.Column('item', sa.String(length=40), nullable=True),
    sa.Column('under_warranty', sa.Boolean(), nullable=True),
    sa.Column('warranty_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('service_code', sa.String(length=60), nullable=True),
    sa.Column('quantity', sa.Numeric(precision=10, scale=2), nullable=True),
    sa.Column('unit_price', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checked_out_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('unfinished_reason', sa.Text(), nullable=False),
    sa.Column('payer_id', sa.String(length=36), nullable=True),
    sa.Column('acceptance', sa.String(length=20), nullable=False),
    sa.Column('acceptance_reference', sa.String(length=200), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_work_orders_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_work_orders'))
    )
    with op.batch_alter_table('work_orders', schema=None) as batch_op:
        batch_op.create_index('ix_work_orders_listed', ['organization_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_work_orders_site_state', ['site_id', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_work_orders_ticket_id'), ['ticket_id'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('work_orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_work_orders_ticket_id'))
        batch_op.drop_index('ix_work_orders_site_state')
        batch_op.drop_index('ix_work_orders_listed')

    op.drop_table('work_orders')
    with op.batch_alter_table('return_visits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_return_visits_ticket_id'))
        batch_op.drop_index('ix_return_visits_site_visited')
        batch_op.drop_index(batch_op.f('ix_return_visits_sampling_id'))
        batch_op.drop_index('ix_return_visits_listed')

    op.drop_table('return_visits')
    with op.batch_alter_table('survey_responses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_survey_responses_survey_id'))
        batch_op.drop_index(batch_op.f('ix_survey_responses_organization_id'))

    op.drop_table('survey_responses')
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.drop_index('ix_surveys_listed')

    op.drop_table('surveys')
    with op.batch_alter_table('return_visit_samplings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_return_visit_samplings_organization_id'))

    op.drop_table('return_visit_samplings')
    with op.batch_alter_table('repair_unit_handovers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_repair_unit_handovers_organization_id'))

    op.drop_table('repair_unit_handovers')
    with op.batch_alter_table('repair_catalogue', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_repair_catalogue_organization_id'))

    op.drop_table('repair_catalogue')
