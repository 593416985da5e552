"""field: patrol plans, their tasks and findings; incidents and their tickets; violations

Revision ID: tkt_field_02
Revises: d3f8a1c6e2b9
Create Date: 2026-12-01 16:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'tkt_field_02'
down_revision: Union[str, Sequence[str], None] = 'd3f8a1c6e2b9'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('patrol_plans',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('purpose', sa.String(length=20), nullable=False),
    sa.Column('reference_id', sa.String(length=36), nullable=False),
    sa.Column('unit_id', sa.String(length=36), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('checkpoints', sa.JSON(), nullable=False),
    sa.Column('patrol_role', sa.String(length=30), nullable=False),
    sa.Column('assignee_id', sa.String(length=200), nullable=True),
    sa.Column('rrule', sa.String(length=200), nullable=False),
    sa.Column('random_minutes', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('withdrawn_reason', sa.String(length=1000), nullable=False),
    sa.Column('generated_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_generation_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_plans'))
    )
    op.create_index('ix_patrol_plans_generation', 'patrol_plans', ['next_generation_at'], unique=False)
    op.create_index('ix_patrol_plans_listed', 'patrol_plans', ['organization_id', 'created_at', 'id'], unique=False)
    op.create_index(op.f('ix_patrol_plans_site_id'), 'patrol_plans', ['site_id'], unique=False)
    op.create_table('patrol_tasks',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('plan_id', sa.String(length=36), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['plan_id'], ['patrol_plans.id'], name=op.f('fk_patrol_tasks_plan_id_patrol_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_tasks')),
    sa.UniqueConstraint('plan_id', 'due_at', name=op.f('uq_patrol_tasks_plan_id'))
    )
    op.create_index('ix_patrol_tasks_listed', 'patrol_tasks', ['organization_id', 'due_at', 'id'], unique=False)
    op.create_index(op.f('ix_patrol_tasks_site_id'), 'patrol_tasks', ['site_id'], unique=False)
    op.create_table('patrol_findings',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.Column('checkpoint', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('ticket_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['patrol_tasks.id'], name=op.f('fk_patrol_findings_task_id_patrol_tasks')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_patrol_findings_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_findings'))
    )
    op.create_index(op.f('ix_patrol_findings_task_id'), 'patrol_findings', ['task_id'], unique=False)
    op.create_table('incidents',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('building_id', sa.String(length=36), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('opened_by', sa.String(length=200), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('closed_by', sa.String(length=200), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incidents'))
    )
    op.create_index('ix_incidents_listed', 'incidents', ['organization_id', 'opened_at', 'id'], unique=False)
    op.create_index(op.f('ix_incidents_site_id'), 'incidents', ['site_id'], unique=False)
    op.create_table('incident_tickets',
    sa.Column('incident_id', sa.String(length=36), nullable=False),
    sa.Column('ticket_id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('linked_by', sa.String(length=200), nullable=False),
    sa.Column('linked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_tickets_incident_id_incidents')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_incident_tickets_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('incident_id', 'ticket_id', name=op.f('pk_incident_tickets'))
    )
    op.create_index(op.f('ix_incident_tickets_ticket_id'), 'incident_tickets', ['ticket_id'], unique=False)
    op.create_table('violations',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('site_id', sa.String(length=36), nullable=False),
    sa.Column('unit_id', sa.String(length=36), nullable=True),
    sa.Column('person_id', sa.String(length=36), nullable=True),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('state', sa.String(length=30), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('observed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reported_by', sa.String(length=200), nullable=False),
    sa.Column('source_reference', sa.String(length=100), nullable=False),
    sa.Column('remedy', sa.String(length=20), nullable=True),
    sa.Column('rectify_by', sa.Date(), nullable=True),
    sa.Column('assessed_loss', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('penalty', sa.String(length=1000), nullable=False),
    sa.Column('penalty_amount', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('decided_by', sa.String(length=200), nullable=True),
    sa.Column('signed_by', sa.String(length=200), nullable=True),
    sa.Column('effective_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('retain_until', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_violations'))
    )
    op.create_index('ix_violations_listed', 'violations', ['organization_id', 'observed_at', 'id'], unique=False)
    op.create_index('ix_violations_retention', 'violations', ['retain_until'], unique=False)
    op.create_index(op.f('ix_violations_site_id'), 'violations', ['site_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('violations')
    op.drop_table('incident_tickets')
    op.drop_table('incidents')
    op.drop_table('patrol_findings')
    op.drop_table('patrol_tasks')
    op.drop_table('patrol_plans')
