"""account checks, token expiry, known devices: what Keycloak last said about a linked account, when an API
token stops working, and which browser a failed sign-in came from

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    # Nullable columns and plain CREATE INDEX: no table rebuild, which SQLite would refuse while other tables'
    # rows refer to users.
    op.add_column('user', sa.Column('oidc_checked_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('user', sa.Column('oidc_check_tried_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('user', sa.Column('oidc_check_ok', sa.Boolean(), nullable=True))
    op.add_column('user', sa.Column('oidc_check_reason', sa.String(length=300), nullable=True))
    op.add_column('api_token', sa.Column('expires', sa.DateTime(timezone=True), nullable=True))
    op.add_column('login_attempt', sa.Column('device', sa.String(length=32), nullable=True))
    op.create_index('ix_login_attempt_device', 'login_attempt', ['device'], unique=False)


def downgrade():
    op.drop_index('ix_login_attempt_device', table_name='login_attempt')
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.drop_column('device')
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_column('expires')
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('oidc_check_reason')
        batch_op.drop_column('oidc_check_ok')
        batch_op.drop_column('oidc_check_tried_at')
        batch_op.drop_column('oidc_checked_at')
