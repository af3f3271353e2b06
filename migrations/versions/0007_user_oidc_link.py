"""user oidc link: the Keycloak issuer and subject an account signs in with

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 04:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE ADD COLUMN and CREATE UNIQUE INDEX: no table rebuild, which SQLite would refuse while
    # other tables' rows refer to users.
    op.add_column('user', sa.Column('oidc_issuer', sa.String(length=500), nullable=True))
    op.add_column('user', sa.Column('oidc_subject', sa.String(length=255), nullable=True))
    op.create_index('ix_user_oidc_link', 'user', ['oidc_issuer', 'oidc_subject'], unique=True)


def downgrade():
    op.drop_index('ix_user_oidc_link', table_name='user')
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('oidc_subject')
        batch_op.drop_column('oidc_issuer')
