"""group remote member count: the Keycloak group's size at its last pull (Keycloak cannot count members)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 07:20:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    # Nullable columns added with plain ALTER TABLE: no table rebuild on SQLite.
    op.add_column('offering_keycloak_group', sa.Column('remote_member_count', sa.Integer(), nullable=True))
    op.add_column(
        'offering_keycloak_group', sa.Column('remote_counted_at', sa.DateTime(timezone=True), nullable=True)
    )


def downgrade():
    with op.batch_alter_table('offering_keycloak_group', schema=None) as batch_op:
        batch_op.drop_column('remote_counted_at')
        batch_op.drop_column('remote_member_count')
