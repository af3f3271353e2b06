"""group managers: a user who manages the members of one local group, and nothing else

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 15:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'group_manager',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('group_id', sa.Integer(), nullable=False),
        sa.Column('username', sa.String(length=150), nullable=False),
        sa.Column('created_by_name', sa.String(length=150), nullable=False),
        sa.Column('uuid', sa.String(length=32), nullable=False),
        sa.Column('created', sa.DateTime(timezone=True), nullable=False),
        sa.Column('modified', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['group_id'], ['offering_keycloak_group.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('uuid'),
        sa.UniqueConstraint('group_id', 'username', name='uq_group_manager_group_username'),
    )
    op.create_index('ix_group_manager_group_id', 'group_manager', ['group_id'])
    op.create_index('ix_group_manager_username', 'group_manager', ['username'])
    op.create_index('ix_group_manager_created', 'group_manager', ['created'])


def downgrade():
    op.drop_index('ix_group_manager_created', table_name='group_manager')
    op.drop_index('ix_group_manager_username', table_name='group_manager')
    op.drop_index('ix_group_manager_group_id', table_name='group_manager')
    op.drop_table('group_manager')
