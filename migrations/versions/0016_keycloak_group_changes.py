"""keycloak group changes: a change read from the admin events may be of a group (created, deleted, moved), under
the parent it names

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08 00:50:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('keycloak_change') as batch_op:
        batch_op.add_column(sa.Column('parent_id', sa.String(length=64), nullable=False, server_default=''))


def downgrade():
    with op.batch_alter_table('keycloak_change') as batch_op:
        batch_op.drop_column('parent_id')
