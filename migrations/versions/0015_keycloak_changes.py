"""keycloak changes: the membership changes read from Keycloak's admin events per offering, how far they were
read, and the names of the users and clients that made them

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 20:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'keycloak_change',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('offering_id', sa.Integer(), nullable=False),
        sa.Column('event_key', sa.String(length=200), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('operation', sa.String(length=10), nullable=False),
        sa.Column('user_id', sa.String(length=64), nullable=False),
        sa.Column('group_id', sa.String(length=64), nullable=False),
        sa.Column('actor_realm_id', sa.String(length=64), nullable=False),
        sa.Column('actor_user_id', sa.String(length=64), nullable=False),
        sa.Column('actor_client_id', sa.String(length=64), nullable=False),
        sa.Column('other_realm', sa.Boolean(), nullable=False),
        sa.Column('by_app', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['offering_id'], ['offering.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('offering_id', 'event_key', name='uq_keycloak_change_offering_event'),
    )
    op.create_index(
        'ix_keycloak_change_membership', 'keycloak_change', ['offering_id', 'group_id', 'user_id', 'at'], unique=False
    )
    op.create_index('ix_keycloak_change_offering_at', 'keycloak_change', ['offering_id', 'at'], unique=False)
    op.create_table(
        'keycloak_event_cursor',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('offering_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('complete_from', sa.DateTime(timezone=True), nullable=True),
        sa.Column('newest_ms', sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(['offering_id'], ['offering.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('offering_id'),
    )
    op.create_table(
        'keycloak_name',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('offering_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('keycloak_id', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(['offering_id'], ['offering.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('offering_id', 'kind', 'keycloak_id', name='uq_keycloak_name'),
    )


def downgrade():
    op.drop_table('keycloak_name')
    op.drop_table('keycloak_event_cursor')
    op.drop_index('ix_keycloak_change_offering_at', table_name='keycloak_change')
    op.drop_index('ix_keycloak_change_membership', table_name='keycloak_change')
    op.drop_table('keycloak_change')
