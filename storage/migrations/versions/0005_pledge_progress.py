"""pledge progress

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('pledge_progress',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pledge_id', sa.Integer(), nullable=False),
    sa.Column('item', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('percent', sa.Integer(), nullable=True),
    sa.Column('reported_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['pledge_id'], ['pledge.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('pledge_progress', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pledge_progress_pledge_id'), ['pledge_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('pledge_progress', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pledge_progress_pledge_id'))

    op.drop_table('pledge_progress')
