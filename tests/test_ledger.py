"""The ledger over seed001's two-year phase, with the file as shipped: a task is owed from the day its
window opens (the day after the previous task of its kind and audience fell due), so a digest in 2011
names no task of 2012, /进度 neither, and a task opening inside a phase is announced that day.
On SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlmodel import Session

from bot.campaigns import load_campaign_file, save_campaign
from bot.scheduler.jobs import run_job
from bot.scheduler.obligations import Obligations, subject_for
from storage.campaigns import mark_done
from storage.db import transaction
from storage.models import CampaignTask, Outbox, Person
from tests.conftest import make_settings

TZ = ZoneInfo("Asia/Shanghai")
SEED001 = Path(__file__).resolve().parents[1] / "campaigns" / "seed001.yaml"


@pytest.fixture
def seed001(engine, rostered):
    with transaction(engine) as session:
        return save_campaign(session, load_campaign_file(SEED001), source_file=str(SEED001)).record


@pytest.fixture
def cfg(db_url):
    return make_settings(db_url, "http://127.0.0.1:9/cgi-bin")


def _outbox(engine, prefix: str) -> list[Outbox]:
    with Session(engine) as session:
        return [r for r in session.scalars(select(Outbox).order_by(Outbox.id)) if r.idem_key.startswith(prefix)]


def _text(row: Outbox) -> str:
    return row.payload[row.payload["msgtype"]]["content"]


def test_a_secretarys_digest_in_september_2011_names_no_task_due_in_2012(engine, seed001, cfg):
    with transaction(engine) as session:  # the branch has done everything due before July 2011
        zhang = session.scalars(select(Person).where(Person.userid == "zhang")).one()
        for task in session.scalars(select(CampaignTask).where(CampaignTask.due < date(2011, 7, 1))):
            mark_done(session, task_id=task.id, subject=subject_for(task, zhang) or "zhang")
    run_job("digest", engine, cfg, datetime(2011, 9, 5, 9, 30, tzinfo=TZ))
    digest = next(_text(r) for r in _outbox(engine, "digest:") if r.payload.get("touser") == "zhang")
    with Session(engine) as session:
        later = [t.title for t in session.scalars(select(CampaignTask)) if t.due.year == 2012]
    assert later and not [title for title in later if title in digest]
    assert "2011年下半年" in digest  # the half year that is running is owed


def test_the_ledger_owes_each_half_years_poll_only_from_its_half_year(engine, seed001):
    with Session(engine) as session:
        zhang = session.scalars(select(Person).where(Person.userid == "zhang")).one()
        keys = {date(2010, 9, 1): set(), date(2011, 2, 1): set()}
        for day in keys:
            ob = Obligations(session, today=day)
            keys[day] = {o.task.key for o in ob.open_for(zhang)}
    assert "branch-poll-2010h2" in keys[date(2010, 9, 1)]
    assert not {"branch-poll-2011h1", "branch-poll-2011h2", "branch-poll-2012h1"} & keys[date(2010, 9, 1)]
    assert "branch-poll-2011h1" in keys[date(2011, 2, 1)] and "branch-poll-2011h2" not in keys[date(2011, 2, 1)]


def test_a_task_opening_inside_its_phase_is_announced_to_the_groups_that_day(engine, seed001, cfg):
    run_job("announcements", engine, cfg, datetime(2011, 1, 4, 10, 0, tzinfo=TZ))
    with Session(engine) as session:
        task = session.scalars(select(CampaignTask).where(CampaignTask.key == "branch-poll-2011h1")).one()
    opened = _outbox(engine, f"announce:{task.id}:opens:")
    assert len(opened) == 2  # both branch groups, once
    assert task.title in _text(opened[0]) and "6月30日前" in _text(opened[0])
    run_job("announcements", engine, cfg, datetime(2011, 1, 5, 10, 0, tzinfo=TZ))
    assert len(_outbox(engine, f"announce:{task.id}:opens:")) == 2


def test_the_ledger_export_says_for_every_party_whether_and_how_each_task_was_closed(engine, seed001, tmp_path):
    from openpyxl import load_workbook

    from bot.exports import export
    from storage.campaigns import mark_by_hand

    with transaction(engine) as session:
        tasks = {t.key: t for t in session.scalars(select(CampaignTask))}
        branch = session.scalars(select(Person).where(Person.userid == "zhang")).one().branch_id
        mark_done(session, task_id=tasks["member-pledge"].id, subject="li")
        mark_by_hand(session, task_id=tasks["branch-plan"].id, subject=f"branch:{branch}", how="not_applicable",
                     reason="本支部成立于活动之后", by="sun")
    with Session(engine) as session:
        count = export(session, what="ledger", campaign=seed001.name, out=tmp_path / "ledger.xlsx")
    sheet = load_workbook(tmp_path / "ledger.xlsx")["任务台账"]
    header, *rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert count == len(rows) > 0
    row = {(r[header.index("任务编号")], r[header.index("对象编号")]): dict(zip(header, r)) for r in rows}
    assert row[("member-pledge", "li")]["状态"] == "已完成"
    assert row[("member-pledge", "qian")]["状态"] == "已逾期"
    marked = row[("branch-plan", f"branch:{branch}")]
    assert (marked["状态"], marked["理由"], marked["标记人"]) == ("不适用", "本支部成立于活动之后", "孙丽")
    assert ("member-pledge", "wang") not in row  # 群众 owe no pledge
    # a branch task once per branch (answered by its secretary), not once per member
    with Session(engine) as session:
        branch_ids = {p.branch_id for p in session.scalars(select(Person)) if p.branch_id}
    assert {s for k, s in row if k == "branch-plan"} == {f"branch:{b}" for b in branch_ids}


TWO_PHASES = """
phases:
  - name: 第一阶段
    start: 2026-03-02
    end: 2026-03-31
    tasks:
      - {id: pledge-1, title: 第一阶段承诺, kind: pledge, audience: members, due: 2026-03-20}
  - name: 第二阶段
    start: 2026-04-01
    end: 2026-06-30
    tasks:
      - {id: pledge-2, title: 第二阶段承诺, kind: pledge, audience: members, due: 2026-04-20}
"""


@pytest.mark.parametrize("day, offered", [
    (date(2026, 4, 10), ["pledge-2", "pledge-1"]),  # revising this phase's, or the late one: asked which
    (date(2026, 5, 10), ["pledge-2"]),  # last phase's closed over LATE_AFTER_END days ago: a revision
])
def test_a_revision_never_silently_fulfils_a_late_task_of_an_earlier_phase(engine, rostered, day, offered):
    """A member who missed phase 1's pledge and did phase 2's: a second pledge in phase 2 was credited
    to phase 1's task without a question (found in review); a task missed long ago is not offered."""
    from bot.campaigns import load_campaign_text
    from tests.conftest import campaign_yaml
    from storage.campaigns import tasks_to_credit

    with transaction(engine) as session:
        save_campaign(session, load_campaign_text(campaign_yaml("两段活动", TWO_PHASES)), source_file="test")
        second = session.scalars(select(CampaignTask).where(CampaignTask.key == "pledge-2")).one()
        mark_done(session, task_id=second.id, subject="li")
    with Session(engine) as session:
        _, tasks = tasks_to_credit(session, today=day, kind="pledge", audiences={"members"}, subject="li")
    assert [t.key for t in tasks] == offered
