"""access reviews: a review of an offering's groups, its reviewers, and one item per member with its decision

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08 01:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'access_review',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('offering_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('due', sa.Date(), nullable=False),
        sa.Column('created_by_name', sa.String(length=150), nullable=False),
        sa.Column('group_uuids', sa.JSON(), nullable=False),
        sa.Column('repeat_months', sa.Integer(), nullable=True),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('closed_by_name', sa.String(length=150), nullable=False),
        sa.Column('plan_id', sa.Integer(), nullable=True),
        sa.Column('reminders_sent', sa.JSON(), nullable=False),
        sa.Column('next_opened', sa.Boolean(), nullable=False),
        sa.Column('uuid', sa.String(length=32), nullable=False),
        sa.Column('created', sa.DateTime(timezone=True), nullable=False),
        sa.Column('modified', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['offering_id'], ['offering.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['plan_id'], ['plan.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('uuid'),
    )
    op.create_index('ix_access_review_offering_id', 'access_review', ['offering_id'])
    op.create_index('ix_access_review_state', 'access_review', ['state'])
    op.create_index('ix_access_review_created', 'access_review', ['created'])
    op.create_table(
        'access_reviewer',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('review_id', sa.Integer(), nullable=False),
        sa.Column('username', sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(['review_id'], ['access_review.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('review_id', 'username', name='uq_access_reviewer'),
    )
    op.create_index('ix_access_reviewer_username', 'access_reviewer', ['username'])
    op.create_table(
        'access_review_item',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('review_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=100), nullable=False),
        sa.Column('group_id', sa.Integer(), nullable=True),
        sa.Column('group_uuid', sa.String(length=32), nullable=False),
        sa.Column('group_name', sa.String(length=255), nullable=False),
        sa.Column('remote_user_id', sa.String(length=64), nullable=False),
        sa.Column('username', sa.String(length=255), nullable=False),
        sa.Column('email', sa.String(length=255), nullable=False),
        sa.Column('first_name', sa.String(length=255), nullable=False),
        sa.Column('last_name', sa.String(length=255), nullable=False),
        sa.Column('decision', sa.String(length=10), nullable=True),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('decided_by', sa.String(length=150), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('outcome', sa.String(length=20), nullable=True),
        sa.Column('outcome_message', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['review_id'], ['access_review.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['group_id'], ['offering_keycloak_group.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('review_id', 'key', name='uq_access_review_item_key'),
    )
    op.create_index('ix_access_review_item_position', 'access_review_item', ['review_id', 'position'])
    op.create_index('ix_access_review_item_decision', 'access_review_item', ['review_id', 'decision', 'position'])


def downgrade():
    op.drop_table('access_review_item')
    op.drop_table('access_reviewer')
    op.drop_table('access_review')
