"""an offering's own CA certificate for its Keycloak

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 21:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('offering', schema=None) as batch_op:
        batch_op.add_column(sa.Column('keycloak_ca_certificate', sa.Text(), server_default='', nullable=False))


def downgrade():
    with op.batch_alter_table('offering', schema=None) as batch_op:
        batch_op.drop_column('keycloak_ca_certificate')
