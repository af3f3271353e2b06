"""bounded jobs and plan retention: one active job per piece of work, and when a plan's items were removed

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

ACTIVE = sa.text("state IN ('queued', 'running')")


def upgrade():
    # Nullable columns added with plain ALTER TABLE: no table rebuild on SQLite. Jobs queued before this
    # migration have no key; they run and end as before, outside the index.
    op.add_column('job', sa.Column('work_key', sa.String(length=64), nullable=True))
    op.create_index(
        'uq_job_active_work_key', 'job', ['work_key'], unique=True, sqlite_where=ACTIVE, postgresql_where=ACTIVE
    )
    op.add_column('plan', sa.Column('items_removed', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('plan', schema=None) as batch_op:
        batch_op.drop_column('items_removed')
    op.drop_index('uq_job_active_work_key', table_name='job')
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_column('work_key')
