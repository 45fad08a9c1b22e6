"""poll_comment: comments written with votes, kept apart from the ballots (issue 18: a ballot row held
the choice and the comment together, so a lone commenter's words told their choice). Existing
comments move over with fresh random ids; ballot.comment goes.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 18:00:00
"""
import secrets

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    comment = op.create_table(
        'poll_comment',
        sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('poll_id', sa.Integer(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['poll_id'], ['poll.id']),
        sa.PrimaryKeyConstraint('id'),
        sqlite_with_rowid=False,
    )
    op.create_index(op.f('ix_poll_comment_poll_id'), 'poll_comment', ['poll_id'], unique=False)
    rows = op.get_bind().execute(sa.text("SELECT poll_id, comment FROM ballot WHERE comment IS NOT NULL")).all()
    if rows:
        op.bulk_insert(comment, [{"id": secrets.token_hex(16), "poll_id": p, "text": c} for p, c in rows])
    # A plain DROP COLUMN (SQLite ≥ 3.35, PostgreSQL): a batch would rebuild ballot, kept WITHOUT ROWID.
    op.execute("ALTER TABLE ballot DROP COLUMN comment")


def downgrade() -> None:
    op.add_column('ballot', sa.Column('comment', sa.Text(), nullable=True))  # the link is not restored
    op.drop_index(op.f('ix_poll_comment_poll_id'), table_name='poll_comment')
    op.drop_table('poll_comment')
