"""bot_state: the installation's id (in every card's task_id) and the sender's pause on a setup error.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 14:10:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('bot_state',
                    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
                    sa.Column('value', sa.JSON(), nullable=False),
                    sa.Column('updated_at', sa.Float(), nullable=False),
                    sa.PrimaryKeyConstraint('key'))


def downgrade() -> None:
    op.drop_table('bot_state')
