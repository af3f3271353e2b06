"""member differences: how many members of a group differed between here and Keycloak at its last comparison

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08 01:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('offering_keycloak_group') as batch_op:
        batch_op.add_column(sa.Column('member_differences', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('differences_checked_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('offering_keycloak_group') as batch_op:
        batch_op.drop_column('differences_checked_at')
        batch_op.drop_column('member_differences')
