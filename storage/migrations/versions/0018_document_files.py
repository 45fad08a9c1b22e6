"""document_file, and the fetch state of a submission's image or file.

/报送 kept only the MediaId a callback carried, and WeChat Work keeps temporary media for three days
(90254: media_id有效期只有3天). The bot now fetches the bytes with media/get behind the callback,
retries a failed fetch, and says so when the media was lost. The bytes are kept in the database
(document_file), not in a data directory: every worker of a PostgreSQL deployment reads the same
files, and a backup of the database is the whole 党建档案. A file is at most 20 MB (what one
media/get returns without Range, 96486), well within SQLite's and PostgreSQL's blob limits.

Submissions of images and files made before this revision are marked lost when their three days are
over, fetching otherwise, so nothing already sent is silently forgotten.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 17:00:00
"""
import time

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

MEDIA_TTL = 3 * 86400


def upgrade() -> None:
    with op.batch_alter_table('document_submission', schema=None) as batch_op:
        batch_op.add_column(sa.Column('file_status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch_op.add_column(sa.Column('fetch_due_at', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('fetch_attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('fetch_error', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_document_submission_file_status'), ['file_status'], unique=False)
    with op.batch_alter_table('document_submission', schema=None) as batch_op:
        batch_op.alter_column('fetch_attempts', server_default=None)
    submissions = sa.table('document_submission', sa.column('kind', sa.String), sa.column('media_id', sa.String),
                           sa.column('submitted_at', sa.Float), sa.column('file_status', sa.String),
                           sa.column('fetch_due_at', sa.Float), sa.column('fetch_error', sa.Text))
    media = sa.and_(submissions.c.kind.in_(['image', 'file']), submissions.c.media_id.isnot(None))
    now = time.time()
    op.execute(submissions.update().where(media, submissions.c.submitted_at > now - MEDIA_TTL)
               .values(file_status='fetching', fetch_due_at=now))
    op.execute(submissions.update().where(media, submissions.c.submitted_at <= now - MEDIA_TTL)
               .values(file_status='lost', fetch_error='sent before files were fetched; the media expired'))
    op.create_table('document_file',
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('content_type', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('fetched_at', sa.Float(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['submission_id'], ['document_submission.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('submission_id')
    )


def downgrade() -> None:
    op.drop_table('document_file')
    with op.batch_alter_table('document_submission', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_document_submission_file_status'))
        batch_op.drop_column('fetch_error')
        batch_op.drop_column('fetch_attempts')
        batch_op.drop_column('fetch_due_at')
        batch_op.drop_column('file_status')
