"""rating: one row per branch per rating round (a campaign's `kind: rating` task), not per campaign.

A campaign may rate its branches more than once (seed002: 定级 in phase 1, 评估 in phase 4); with one
row per campaign the second round overwrote the first and no change of level could be shown.
Existing ratings belong to their campaign's first rating round.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 10:00:00
"""
import logging

from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

# SQLite keeps the old unique constraint unnamed: reflected under this convention it gets a name to drop.
_NAMES = {"uq": "uq_%(table_name)s_%(column_0_N_name)s"}
_FIRST_ROUND = sa.text(
    "UPDATE rating SET task_id = (SELECT t.id FROM campaign_task t WHERE t.campaign_id = rating.campaign_id "
    "AND t.kind = 'rating' AND t.branch_id IS NULL ORDER BY t.due, t.id LIMIT 1)")
_WITHOUT_ROUND = sa.text("DELETE FROM rating WHERE task_id IS NULL")
# Downgrading keeps each branch's latest round, the one the old schema's /定级 would have shown.
_EARLIER_ROUNDS = sa.text(
    "DELETE FROM rating WHERE EXISTS (SELECT 1 FROM rating later "
    "JOIN campaign_task lt ON lt.id = later.task_id JOIN campaign_task t ON t.id = rating.task_id "
    "WHERE later.campaign_id = rating.campaign_id AND later.branch_id = rating.branch_id "
    "AND (lt.due > t.due OR (lt.due = t.due AND lt.id > t.id)))")


def _unique_name(columns: str) -> str:
    """The unique constraint's name: PostgreSQL's own default, or the convention's on SQLite."""
    if op.get_bind().dialect.name == "postgresql":
        return f"rating_{columns}_key"
    return f"uq_rating_{columns}"


def upgrade() -> None:
    with op.batch_alter_table('rating', schema=None) as batch_op:
        batch_op.add_column(sa.Column('task_id', sa.Integer(), nullable=True))
    op.execute(_FIRST_ROUND)
    # Only a campaign whose every rating task was removed from its file has none: nothing shows them.
    dropped = op.get_bind().execute(_WITHOUT_ROUND).rowcount
    if dropped:
        log.warning("Dropped %d rating rows of campaigns that no longer have a rating task", dropped)
    with op.batch_alter_table('rating', schema=None, naming_convention=_NAMES) as batch_op:
        batch_op.alter_column('task_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_constraint(_unique_name("campaign_id_branch_id"), type_='unique')
        batch_op.create_unique_constraint(_unique_name("task_id_branch_id"), ['task_id', 'branch_id'])
        batch_op.create_index(batch_op.f('ix_rating_task_id'), ['task_id'], unique=False)
        batch_op.create_foreign_key('rating_task_id_fkey', 'campaign_task', ['task_id'], ['id'],
                                    ondelete='CASCADE')


def downgrade() -> None:
    op.execute(_EARLIER_ROUNDS)
    with op.batch_alter_table('rating', schema=None, naming_convention=_NAMES) as batch_op:
        batch_op.drop_constraint('rating_task_id_fkey', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_rating_task_id'))
        batch_op.drop_constraint(_unique_name("task_id_branch_id"), type_='unique')
        batch_op.create_unique_constraint(_unique_name("campaign_id_branch_id"), ['campaign_id', 'branch_id'])
        batch_op.drop_column('task_id')
