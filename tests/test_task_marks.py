"""/标记: the committee closes a branch's task by hand (done some other way, or not applicable) with a
reason that is recorded; the digest then stops listing it. Through the dispatcher, SQLite and PostgreSQL."""
from __future__ import annotations

from sqlmodel import Session, select

from bot.scheduler.obligations import Obligations
from storage import campaigns
from storage.models import Branch, Person, TaskDone
from tests.conftest import campaign_yaml
from tests.test_polls import START, Town, populate

BRANCH_PLAN_CAMPAIGN = campaign_yaml("标记测试", """
phases:
  - name: 组织实施
    start: 2026-05-01
    end: 2026-06-30
    tasks:
      - {id: branch-summary, title: 支部活动小结, kind: document, audience: branches, due: 2026-05-20}
      - {id: branch-poll, title: 党员群众评议本支部, kind: poll, audience: branches, voters: both, due: 2026-05-25}
""")


def _owed_by_secretary(engine) -> list[str]:
    with Session(engine) as session:
        owed = Obligations(session, today=START.date())
        return [o.task.title for o in owed.open_for(session.get(Person, "sec"))]


def _first_branch(engine) -> Branch:
    with Session(engine) as session:
        return session.get(Branch, 1)


def test_the_committee_marks_a_branch_task_not_applicable_with_its_reason(engine, tmp_path):
    populate(engine, tmp_path, campaign=BRANCH_PLAN_CAMPAIGN)
    town = Town(engine)
    listed = town.say("boss", "/标记 第一")[0]
    assert "1. 支部活动小结" in listed and "2. 党员群众评议本支部" in listed and "不适用" in listed
    assert "支部活动小结" in _owed_by_secretary(engine)
    done = town.say("boss", "/标记 第一 1 不适用 本支部已在全局总结中一并报送")[0]
    assert "不适用" in done and "本支部已在全局总结中一并报送" in done
    assert _owed_by_secretary(engine) == ["党员群众评议本支部"]  # the digest no longer asks for it
    branch_id = _first_branch(engine).id
    with Session(engine) as session:
        [row] = list(session.exec(select(TaskDone)))
        assert (row.subject, row.how, row.reason, row.marked_by) == (
            f"branch:{branch_id}", "not_applicable", "本支部已在全局总结中一并报送", "boss")
    assert "1. 党员群众评议本支部" in town.say("boss", "/标记 第一党支部")[0]  # numbered afresh


def test_a_mark_needs_a_number_a_word_and_a_reason_and_only_the_committee_may_mark(engine, tmp_path):
    populate(engine, tmp_path, campaign=BRANCH_PLAN_CAMPAIGN)
    town = Town(engine)
    for incomplete in ("/标记 第一 1", "/标记 第一 1 不适用", "/标记 第一 9 完成 已办", "/标记 第一 1 作废 已办",
                       "/标记 第一 一 完成 已办"):
        assert "没看懂要标记哪一项" in town.say("boss", incomplete)[0]
    assert "现有支部" in town.say("boss", "/标记 第九党支部 1 完成 已办")[0]
    assert "现有支部" in town.say("boss", "/标记")[0]
    assert "/标记" in town.say("sec", "/标记 第一 1 完成 已办")[0]  # not allowed: says who may
    with Session(engine) as session:
        assert list(session.exec(select(TaskDone))) == []


def test_marking_what_is_already_done_keeps_the_first_record(engine, tmp_path):
    populate(engine, tmp_path, campaign=BRANCH_PLAN_CAMPAIGN)
    town = Town(engine)
    town.say("boss", "/标记 第一 1 完成 线下已报送纸质材料")
    branch_id = _first_branch(engine).id
    with Session(engine) as session:
        task_id = session.exec(select(TaskDone)).one().task_id
        assert not campaigns.mark_by_hand(session, task_id=task_id, subject=f"branch:{branch_id}",
                                          how="not_applicable", reason="改口", by="boss")
        assert session.exec(select(TaskDone)).one().how == "marked_done"
