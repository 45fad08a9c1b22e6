"""Inbound updates: callbacks answered at once and handled behind the answer.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inbound_update',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('userid', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('payload', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('received_at', sa.Float(), nullable=False),
    sa.Column('lease_until', sa.Float(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('inbound_update', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_update_userid'), ['userid'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('inbound_update', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_update_userid'))
    op.drop_table('inbound_update')
