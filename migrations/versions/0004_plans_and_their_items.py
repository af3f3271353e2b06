"""plans and their items

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 23:28:08

"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('plan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('offering_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_by_name', sa.String(length=150), nullable=False),
    sa.Column('expires', sa.DateTime(timezone=True), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('fingerprint', sa.JSON(), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.Column('brake', sa.JSON(), nullable=True),
    sa.Column('applied_by_name', sa.String(length=150), nullable=False),
    sa.Column('apply_started', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished', sa.DateTime(timezone=True), nullable=True),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('uuid', sa.String(length=32), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('modified', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_plan_created_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['offering_id'], ['offering.id'], name=op.f('fk_plan_offering_id_offering'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan')),
    sa.UniqueConstraint('uuid', name=op.f('uq_plan_uuid'))
    )
    with op.batch_alter_table('plan', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_created'), ['created'], unique=False)
        batch_op.create_index(batch_op.f('ix_plan_offering_id'), ['offering_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_plan_state'), ['state'], unique=False)

    op.create_table('plan_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=600), nullable=False),
    sa.Column('actions', sa.JSON(), nullable=False),
    sa.Column('default_action', sa.String(length=30), nullable=True),
    sa.Column('destructive', sa.Boolean(), nullable=False),
    sa.Column('where', sa.String(length=10), nullable=False),
    sa.Column('unchanged', sa.Boolean(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=True),
    sa.Column('group_uuid', sa.String(length=32), nullable=False),
    sa.Column('group_name', sa.String(length=255), nullable=False),
    sa.Column('membership_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=255), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=False),
    sa.Column('first_name', sa.String(length=255), nullable=False),
    sa.Column('last_name', sa.String(length=255), nullable=False),
    sa.Column('remote_user_id', sa.String(length=255), nullable=False),
    sa.Column('remote_group_id', sa.String(length=255), nullable=False),
    sa.Column('remote_path', sa.String(length=1000), nullable=False),
    sa.Column('scope_id', sa.String(length=255), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('chosen_action', sa.String(length=30), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['offering_keycloak_group.id'], name=op.f('fk_plan_item_group_id_offering_keycloak_group'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['plan_id'], ['plan.id'], name=op.f('fk_plan_item_plan_id_plan'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_item')),
    sa.UniqueConstraint('plan_id', 'key', name='uq_plan_item_key')
    )
    with op.batch_alter_table('plan_item', schema=None) as batch_op:
        batch_op.create_index('ix_plan_item_plan_position', ['plan_id', 'position'], unique=False)
        batch_op.create_index('ix_plan_item_plan_unchanged_position', ['plan_id', 'unchanged', 'position'], unique=False)



def downgrade():
    with op.batch_alter_table('plan_item', schema=None) as batch_op:
        batch_op.drop_index('ix_plan_item_plan_unchanged_position')
        batch_op.drop_index('ix_plan_item_plan_position')

    op.drop_table('plan_item')
    with op.batch_alter_table('plan', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plan_state'))
        batch_op.drop_index(batch_op.f('ix_plan_offering_id'))
        batch_op.drop_index(batch_op.f('ix_plan_created'))

    op.drop_table('plan')
