"""audit_entry: the hash-chained audit log (issue 20, storage/audit.py). Its head (how many entries and
the last one's hash) lives in bot_state under "audit_head", written by the first entry; nothing to
carry over: the log starts with this upgrade.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 08:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'audit_entry',
        sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('at', sa.Float(), nullable=False),
        sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column('details', sa.JSON(), nullable=False),
        sa.Column('prev_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint('seq'),
    )


def downgrade() -> None:
    op.drop_table('audit_entry')
    op.execute("DELETE FROM bot_state WHERE key = 'audit_head'")
