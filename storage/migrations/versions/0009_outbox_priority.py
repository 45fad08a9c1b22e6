"""Outbox priority: replies are claimed before bulk rows (a Monday digest must not hold them up).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 12:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority', sa.Integer(), server_default='1', nullable=False))
        batch_op.create_index('ix_outbox_claim', ['status', 'priority', 'id'], unique=False)
        batch_op.drop_index('ix_outbox_channel')
        batch_op.create_index('ix_outbox_channel_order', ['channel', 'status', 'priority', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_channel_order')
        batch_op.create_index('ix_outbox_channel', ['channel'], unique=False)
        batch_op.drop_index('ix_outbox_claim')
        batch_op.drop_column('priority')
