"""task_done: how a task was closed (fulfilled, or marked by the committee as done or not applicable),
the committee's reason and who marked it.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 15:20:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('task_done', schema=None) as batch_op:
        batch_op.add_column(sa.Column('how', sqlmodel.sql.sqltypes.AutoString(length=16), server_default='fulfilled',
                                      nullable=False))
        batch_op.add_column(sa.Column('reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('marked_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('task_done', schema=None) as batch_op:
        batch_op.drop_column('marked_by')
        batch_op.drop_column('reason')
        batch_op.drop_column('how')
