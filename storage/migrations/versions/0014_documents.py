"""document_submission: documents (方案, 总结, 评估小结 …) sent with /报送 for `kind: document` tasks.

Nothing fulfilled a document task before, so they were nagged forever. A submission keeps what its
callback carried (a text, or an image's MediaId and PicUrl, a file's MediaId and name); a committee
member accepts it (fulfilling the task) or returns it with a comment.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 15:20:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('document_submission',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('task_title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=True),
    sa.Column('userid', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('media_id', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=True),
    sa.Column('pic_url', sa.Text(), nullable=True),
    sa.Column('file_name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('reviewer', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('submitted_at', sa.Float(), nullable=False),
    sa.Column('reviewed_at', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['branch_id'], ['branch.id'], ),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], ),
    sa.ForeignKeyConstraint(['task_id'], ['campaign_task.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['userid'], ['person.userid'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('document_submission', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_document_submission_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_document_submission_task_id'), ['task_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_document_submission_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('document_submission', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_document_submission_status'))
        batch_op.drop_index(batch_op.f('ix_document_submission_task_id'))
        batch_op.drop_index(batch_op.f('ix_document_submission_campaign_id'))
    op.drop_table('document_submission')
