"""drop job heartbeat: a job's worker reports its heartbeat to the queue's store, which is what is read

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    # SQLite drops a column that no index or constraint uses in place (3.35 and later): no table rebuild.
    op.drop_column('job', 'heartbeat')


def downgrade():
    op.add_column('job', sa.Column('heartbeat', sa.DateTime(timezone=True), nullable=True))
