"""memberships that end: a membership's expiry and the reminders sent for it, and per group a default and a
maximum duration in days

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 15:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    # Nullable columns without defaults: added in place on SQLite and PostgreSQL alike (no table rebuild).
    op.add_column('offering_keycloak_membership', sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        'ix_offering_keycloak_membership_expires_at', 'offering_keycloak_membership', ['expires_at'], unique=False
    )
    op.add_column(
        'offering_keycloak_membership', sa.Column('reminders_sent', sa.JSON(), nullable=False, server_default='[]')
    )
    op.add_column('offering_keycloak_group', sa.Column('default_days', sa.Integer(), nullable=True))
    op.add_column('offering_keycloak_group', sa.Column('max_days', sa.Integer(), nullable=True))


def downgrade():
    op.drop_column('offering_keycloak_group', 'max_days')
    op.drop_column('offering_keycloak_group', 'default_days')
    op.drop_column('offering_keycloak_membership', 'reminders_sent')
    op.drop_index('ix_offering_keycloak_membership_expires_at', table_name='offering_keycloak_membership')
    op.drop_column('offering_keycloak_membership', 'expires_at')
