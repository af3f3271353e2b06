"""group created backend id: the Keycloak id of the group this application created, the only one it may delete

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 09:00:00

Existing rows get '' (nothing may be deleted in Keycloak): before this column, a group was recorded as
`created` also when an existing Keycloak group was adopted or a created group was re-linked, so an existing
`created` row does not show that this application made the Keycloak group it points at now.
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    # NOT NULL with a server default: a plain ALTER TABLE ADD COLUMN on SQLite and PostgreSQL alike.
    op.add_column(
        'offering_keycloak_group',
        sa.Column('created_backend_id', sa.String(length=255), server_default='', nullable=False),
    )


def downgrade():
    with op.batch_alter_table('offering_keycloak_group', schema=None) as batch_op:
        batch_op.drop_column('created_backend_id')
