"""Sealed ballots and comments (issue 18): while a poll is open its ballots and comments are stored
sealed under a key of the poll's (storage/sealing.py), destroyed at the close, when the counts and
comments go into poll.result and the rows are deleted. Ballots and comments of closed polls are
already in their results and go; those of a poll open now are kept readable, as they were stored
(the "plain" token: no key existed for them), and the poll has no seal_key.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 08:00:00
"""
import base64
import json

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def _plain(raw: bytes) -> str:
    return "plain." + base64.urlsafe_b64encode(raw).decode()


def upgrade() -> None:
    op.add_column('poll', sa.Column('seal_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    bind = op.get_bind()
    ballots = bind.execute(sa.text("SELECT b.id, b.poll_id, b.choice, b.voter_group FROM ballot b "
                                   "JOIN poll p ON p.id = b.poll_id WHERE p.status = 'open'")).all()
    comments = bind.execute(sa.text("SELECT c.id, c.poll_id, c.text FROM poll_comment c "
                                    "JOIN poll p ON p.id = c.poll_id WHERE p.status = 'open'")).all()
    for name in ('ballot', 'poll_comment'):
        op.drop_index(op.f(f'ix_{name}_poll_id'), table_name=name)
        op.drop_table(name)
        table = op.create_table(
            name,
            sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
            sa.Column('poll_id', sa.Integer(), nullable=False),
            sa.Column('sealed', sa.Text(), nullable=False),
            sa.ForeignKeyConstraint(['poll_id'], ['poll.id']),
            sa.PrimaryKeyConstraint('id'),
            sqlite_with_rowid=False,
        )
        op.create_index(op.f(f'ix_{name}_poll_id'), name, ['poll_id'], unique=False)
        rows = ([{"id": i, "poll_id": p, "sealed": _plain(json.dumps({"choice": c, "group": g}).encode())}
                 for i, p, c, g in ballots] if name == 'ballot'
                else [{"id": i, "poll_id": p, "sealed": _plain(t.encode())} for i, p, t in comments])
        if rows:
            op.bulk_insert(table, rows)


def downgrade() -> None:
    """The old shapes; what was sealed cannot be read here and is not carried back (open polls'
    sealed ballots are lost: downgrade with no poll open)."""
    bind = op.get_bind()
    found = {name: bind.execute(sa.text(f"SELECT id, poll_id, sealed FROM {name} WHERE sealed LIKE 'plain.%'")).all()
             for name in ('ballot', 'poll_comment')}
    for name, column in (('ballot', 'choice'), ('poll_comment', 'text')):
        op.drop_index(op.f(f'ix_{name}_poll_id'), table_name=name)
        op.drop_table(name)
        extra = [sa.Column('voter_group', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True)] \
            if name == 'ballot' else []
        table = op.create_table(
            name,
            sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
            sa.Column('poll_id', sa.Integer(), nullable=False),
            sa.Column(column, sqlmodel.sql.sqltypes.AutoString(length=32) if name == 'ballot' else sa.Text(),
                      nullable=False),
            *extra,
            sa.ForeignKeyConstraint(['poll_id'], ['poll.id']),
            sa.PrimaryKeyConstraint('id'),
            sqlite_with_rowid=False,
        )
        op.create_index(op.f(f'ix_{name}_poll_id'), name, ['poll_id'], unique=False)
        rows = []
        for i, p, token in found[name]:
            raw = base64.urlsafe_b64decode(token.partition(".")[2])
            if name == 'ballot':
                vote = json.loads(raw)
                rows.append({"id": i, "poll_id": p, "choice": vote["choice"], "voter_group": vote.get("group")})
            else:
                rows.append({"id": i, "poll_id": p, "text": raw.decode()})
        if rows:
            op.bulk_insert(table, rows)
    op.execute("ALTER TABLE poll DROP COLUMN seal_key")  # a batch would rebuild poll, which others reference
