"""leader_comment: the committee's 领导点评 on a branch (`kind: comment` tasks, seed001's half-yearly
review), posted to the branch's group; pledge_progress.userid: who reported, since a branch's 践诺
(/践诺 支部) may be reported by any secretary of the branch, not only the pledge's author.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 17:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('leader_comment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('task_title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('userid', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('written_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['branch_id'], ['branch.id'], ),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], ),
    sa.ForeignKeyConstraint(['task_id'], ['campaign_task.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['userid'], ['person.userid'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('leader_comment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_leader_comment_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_leader_comment_task_id'), ['task_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_leader_comment_branch_id'), ['branch_id'], unique=False)
    with op.batch_alter_table('pledge_progress', schema=None) as batch_op:
        batch_op.add_column(sa.Column('userid', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('pledge_progress', schema=None) as batch_op:
        batch_op.drop_column('userid')
    with op.batch_alter_table('leader_comment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_leader_comment_branch_id'))
        batch_op.drop_index(batch_op.f('ix_leader_comment_task_id'))
        batch_op.drop_index(batch_op.f('ix_leader_comment_campaign_id'))
    op.drop_table('leader_comment')
