"""campaign_task.userid: a task the bot adds for one person, a member's 整改方案 after their 民主评议党员
fell below the campaign's line (seed000: "评议满意率达不到80%的…党员…制定出下一步整改提升方案").
Branch tasks the bot adds already carry branch_id; this one carries both.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 17:30:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (SQLite has it): a batch would copy campaign_task and drop the original, which
    # the foreign keys of every table pointing at it refuse once there are tasks.
    op.add_column('campaign_task', sa.Column('userid', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))


def downgrade() -> None:
    # without the column such a task would be every member's of the branch: it goes; its pledges stay
    op.execute("UPDATE pledge SET task_id = NULL WHERE task_id IN (SELECT id FROM campaign_task WHERE userid IS NOT NULL)")
    op.execute("DELETE FROM task_done WHERE task_id IN (SELECT id FROM campaign_task WHERE userid IS NOT NULL)")
    op.execute("DELETE FROM campaign_task WHERE userid IS NOT NULL")
    op.execute("ALTER TABLE campaign_task DROP COLUMN userid")  # SQLite ≥ 3.35 and PostgreSQL, no table copy
