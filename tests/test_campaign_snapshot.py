"""Campaigns and tasks are read from a per-process snapshot (storage/campaigns.py): whatever changes
them, in this process or another, is seen by the next read."""
from __future__ import annotations

from datetime import date

from sqlalchemy import update

from storage import campaigns
from storage.db import transaction
from storage.models import CampaignRecord, CampaignTask

TASK = dict(key="pledge", phase_index=0, title="公开承诺", kind="pledge", audience="member", due=date(2026, 5, 10))
PHASES = [{"start": "2026-05-01", "end": "2026-06-30"}]  # a task's window is drawn from its phase


def load(engine, content: dict, tasks: list[dict]) -> None:
    with transaction(engine) as session:
        campaigns.upsert_campaign(session, name="测试活动", content={**content, "phases": PHASES}, source_file="t.yaml",
                                  start=date(2026, 5, 1), end=date(2026, 6, 30), tasks=tasks)


def titles(engine, today=date(2026, 5, 5)) -> list[str]:
    with transaction(engine) as session:
        found = campaigns.find_task(session, today=today, kind="pledge")
        return [found[1].title] if found else []


def test_every_change_is_seen_by_the_next_read(engine):
    assert titles(engine) == []
    load(engine, {"v": 1}, [TASK])
    assert titles(engine) == ["公开承诺"]
    load(engine, {"v": 2}, [{**TASK, "title": "公开承诺（修订）"}])           # campaign load with new content
    assert titles(engine) == ["公开承诺（修订）"]
    with transaction(engine) as session:                                      # a task added for one branch
        record = campaigns.campaigns(session)[0]
        session.add(CampaignTask(campaign_id=record.id, **{**TASK, "key": "fix", "title": "整改方案",
                                                             "due": date(2026, 5, 20)}))
    with transaction(engine) as session:
        assert [t.title for t in campaigns.tasks_of(session, campaign_ids=[record.id])] == ["公开承诺（修订）", "整改方案"]
    with transaction(engine) as session:                                      # dates changed by hand
        session.execute(update(CampaignRecord).values(end=date(2026, 5, 3)))
    assert titles(engine) == []


def test_a_read_inside_a_writing_transaction_sees_its_own_change(engine):
    load(engine, {"v": 1}, [TASK])
    with transaction(engine) as session:
        assert campaigns.find_task(session, today=date(2026, 5, 5), kind="pledge")
        session.execute(update(CampaignRecord).values(end=date(2026, 5, 3)))
        assert campaigns.find_task(session, today=date(2026, 5, 5), kind="pledge") is None


def test_written_items_follow_each_members_latest_version(engine, rostered):
    from sqlmodel import select as sql_select

    from storage.models import Person
    from storage.pledges import add_pledge, written_items

    load(engine, {"v": 1}, [TASK])

    def pledge(userid: str, *whats: str, at: float) -> None:
        with transaction(engine) as session:
            person = session.exec(sql_select(Person).where(Person.userid == userid)).one()
            record = campaigns.campaigns(session)[0]
            [task] = campaigns.tasks_of(session, campaign_ids=[record.id])
            add_pledge(session, campaign_id=record.id, task_id=task.id, person=person, kind="member",
                       items=[{"what": what} for what in whats], at=at)

    def written() -> dict[str, list[tuple[str, float]]]:
        with transaction(engine) as session:
            return written_items(session, campaign_id=campaigns.campaigns(session)[0].id)

    pledge("li", "每周听课", at=1.0)
    assert written() == {"li": [("每周听课", 1.0)]}
    pledge("li", "每月家访", at=2.0)                 # a new version replaces the one read before
    pledge("zhang", "集体备课", at=3.0)
    assert written() == {"li": [("每月家访", 2.0)], "zhang": [("集体备课", 3.0)]}
    pledge("li", "每月家访", "每周听课", at=4.0)     # an item kept or taken up again keeps when li first wrote it
    assert written()["li"] == [("每月家访", 2.0), ("每周听课", 1.0)]