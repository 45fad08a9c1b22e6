"""person: one person per lower(userid), since WeChat Work's UserIDs are case-insensitive.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 15:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

_SAME_ACCOUNT = sa.text("SELECT lower(userid), min(userid), max(userid) FROM person "
                        "GROUP BY lower(userid) HAVING count(*) > 1 ORDER BY 1")


def upgrade() -> None:
    # Two rows that only the case tells apart are one account on the platform; the unique index
    # cannot be built over them, so say which they are instead of the database's bare refusal.
    twins = op.get_bind().execute(_SAME_ACCOUNT).all()
    if twins:
        from bot.texts import render
        raise RuntimeError(render("cli/db_userid_case_twins", twins=[sorted(pair) for _, *pair in twins]))
    op.create_index('ux_person_userid_lower', 'person', [sa.text('lower(userid)')], unique=True)


def downgrade() -> None:
    op.drop_index('ux_person_userid_lower', table_name='person')
