"""progress_photo: photos sent with a 践诺 report (issue 19, finding 9), fetched with media/get behind the
reply like a /报送 file and kept in the database with their sha256; each is posted to the branch group
the report was published to once it is kept. New reports only: nothing to carry over.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03 14:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'progress_photo',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('progress_id', sa.Integer(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('userid', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('media_id', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
        sa.Column('pic_url', sa.Text(), nullable=True),
        sa.Column('sent_at', sa.Float(), nullable=False),
        sa.Column('chat_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('file_status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('fetch_due_at', sa.Float(), nullable=True),
        sa.Column('fetch_attempts', sa.Integer(), nullable=False),
        sa.Column('fetch_error', sa.Text(), nullable=True),
        sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column('content_type', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column('size', sa.Integer(), nullable=True),
        sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('fetched_at', sa.Float(), nullable=True),
        sa.Column('data', sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(['progress_id'], ['pledge_progress.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('progress_photo', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_progress_photo_progress_id'), ['progress_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_progress_photo_file_status'), ['file_status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('progress_photo', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_progress_photo_file_status'))
        batch_op.drop_index(batch_op.f('ix_progress_photo_progress_id'))
    op.drop_table('progress_photo')
