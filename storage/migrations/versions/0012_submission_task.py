"""pledge and self_assessment: the task each one fulfils.

A submission fulfils the one task whose window holds the day it is made. A pledge's versions count
within its task: seed000's branch pledges of 2010 and of 2012 are two pledges, not an edit of one.
Existing rows get the task of their kind whose phase held the day they were made (in XIANFENG_TZ),
and pledge versions are numbered again within each task.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 11:00:00
"""
import os
from datetime import date, datetime
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

# SQLite keeps the old unique constraint unnamed: reflected under this convention it gets a name to drop.
_NAMES = {"uq": "uq_%(table_name)s_%(column_0_N_name)s"}
_AUDIENCES = {"member": ("members", "post_holders")}  # any other kind (branch, stars) is the branch's
_OLD, _NEW = ("campaign_id", "userid", "kind", "version"), ("campaign_id", "task_id", "userid", "kind", "version")


def _unique_name(columns: tuple[str, ...]) -> str:
    """The pledge unique constraint's name: PostgreSQL's own default, or the convention's on SQLite."""
    joined = "_".join(columns)
    return f"pledge_{joined}_key" if op.get_bind().dialect.name == "postgresql" else f"uq_pledge_{joined}"


def upgrade() -> None:
    for table in ("pledge", "self_assessment"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('task_id', sa.Integer(), nullable=True))
            batch_op.create_index(batch_op.f(f'ix_{table}_task_id'), ['task_id'], unique=False)
            batch_op.create_foreign_key(f'{table}_task_id_fkey', 'campaign_task', ['task_id'], ['id'])
    with op.batch_alter_table('pledge', schema=None, naming_convention=_NAMES) as batch_op:
        batch_op.drop_constraint(_unique_name(_OLD), type_='unique')
        batch_op.create_unique_constraint(_unique_name(_NEW), list(_NEW))
    _attach_existing()


def _attach_existing() -> None:
    bind, zone = op.get_bind(), ZoneInfo(os.environ.get("XIANFENG_TZ") or "Asia/Shanghai")
    campaign = sa.table("campaign", sa.column("id", sa.Integer), sa.column("content", sa.JSON))
    phases = {cid: content["phases"] for cid, content in bind.execute(sa.select(campaign.c.id, campaign.c.content))}
    tasks = bind.execute(sa.text("SELECT id, campaign_id, phase_index, kind, audience FROM campaign_task "
                                 "WHERE branch_id IS NULL ORDER BY due, id")).all()
    for table, kind in (("pledge", "pledge"), ("self_assessment", "self_assessment")):
        rows = bind.execute(sa.text(f"SELECT id, campaign_id, kind, submitted_at FROM {table}")).all()
        for row_id, campaign_id, row_kind, at in rows:
            day = datetime.fromtimestamp(at, zone).date()
            task = next((t.id for t in tasks if t.campaign_id == campaign_id and t.kind == kind
                         and t.audience in _AUDIENCES.get(row_kind, ("branches",))
                         and _holds(phases.get(campaign_id, []), t.phase_index, day)), None)
            if task is not None:
                bind.execute(sa.text(f"UPDATE {table} SET task_id = :task WHERE id = :id"), {"task": task, "id": row_id})
    _renumber_pledges(bind)


def _holds(phases: list[dict], index: int, day: date) -> bool:
    return index < len(phases) and date.fromisoformat(phases[index]["start"]) <= day \
        <= date.fromisoformat(phases[index]["end"])


def _renumber_pledges(bind) -> None:
    """Versions 1, 2, … within each task's pledge of a person (member) or branch, in the old order.
    Negative first, so no two rows share a version on the way."""
    rows = bind.execute(sa.text("SELECT id, campaign_id, task_id, kind, userid, branch_id FROM pledge "
                                "ORDER BY version, id")).all()
    counts: dict[tuple, int] = {}
    numbered = []
    for row in rows:
        party = row.userid if row.kind == "member" else row.branch_id
        key = (row.campaign_id, row.task_id, row.kind, party)
        counts[key] = counts.get(key, 0) + 1
        numbered.append({"id": row.id, "version": counts[key]})
    if numbered:
        bind.execute(sa.text("UPDATE pledge SET version = -version"))
        bind.execute(sa.text("UPDATE pledge SET version = :version WHERE id = :id"), numbered)


def downgrade() -> None:
    op.execute("UPDATE pledge SET version = id")  # unique again without the task; the order is kept
    with op.batch_alter_table('pledge', schema=None, naming_convention=_NAMES) as batch_op:
        batch_op.drop_constraint(_unique_name(_NEW), type_='unique')
        batch_op.create_unique_constraint(_unique_name(_OLD), list(_OLD))
    for table in ("self_assessment", "pledge"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f'{table}_task_id_fkey', type_='foreignkey')
            batch_op.drop_index(batch_op.f(f'ix_{table}_task_id'))
            batch_op.drop_column('task_id')
