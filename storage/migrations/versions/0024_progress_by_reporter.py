"""pledge_progress(userid, reported_at): a photo that no form takes looks for its sender's 践诺 report of
the last half hour, to join it (issue 19); one index probe instead of a scan of every report.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03 18:00:00
"""
from alembic import op


revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_pledge_progress_userid_reported_at', 'pledge_progress', ['userid', 'reported_at'])


def downgrade() -> None:
    op.drop_index('ix_pledge_progress_userid_reported_at', table_name='pledge_progress')
