"""The formalism guard through the pledge form (issue 19, finding 8): an item copied from the
campaign file's own text is flagged as its wording, and when a member copies another's item only the
copier is flagged, not the member who wrote it first, even when she edits her pledge afterwards.
On SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import Session

from bot.campaigns import load_campaign_text, save_campaign
from storage.db import transaction
from storage.models import Pledge
from tests.conftest import campaign_yaml
from tests.test_pledge_form import LI_PLEDGE, Phone

# seed000's 对标定位, as the shipped campaigns/seed000.yaml quotes the plan
PLAN_SENTENCE = "对照工作标准,查找自身差距,明确努力方向,制定跟进、赶超的具体措施"
CAMPAIGN = campaign_yaml("形式主义测试", f"""
phases:
  - name: 公开承诺
    start: 2026-03-02
    end: 2026-04-30
    tasks:
      - id: member-pledge
        title: 党员公开承诺
        kind: pledge
        audience: members
        due: 2026-03-20
        source_text: "二是搞好对标定位。{PLAN_SENTENCE}"
""")
KEEP_EVERYTHING = ("/修改 承诺", *["不变"] * 6, "1")  # an edit that keeps each answer of LI_PLEDGE


@pytest.fixture
def campaign(engine, rostered):
    with transaction(engine) as session:
        return save_campaign(session, load_campaign_text(CAMPAIGN), source_file="test")


def _flags(engine, userid: str) -> list[set[str]]:
    """The flag codes of each item of the person's latest pledge."""
    with Session(engine) as session:
        pledge = session.scalars(select(Pledge).where(Pledge.userid == userid).order_by(Pledge.id.desc())).first()
        return [{flag["code"] for flag in item["flags"]} for item in pledge.items]


def test_a_sentence_copied_from_the_campaign_file_is_flagged_as_its_wording(engine, campaign):
    qian = Phone(engine, "qian")  # a member without a post: one standard, then the confirmation
    preview = qian.say_all(("/承诺", PLAN_SENTENCE.replace(",", "，"), "每月对照一次", "6月15日"))[0]
    assert "照搬了活动文件的原话" in preview
    qian.say("1")
    assert "template" in _flags(engine, "qian")[0]


def test_only_the_later_of_two_alike_items_is_flagged_as_copied(engine, campaign):
    li, qian = Phone(engine, "li"), Phone(engine, "qian")
    li.say_all(LI_PLEDGE)  # li writes 每周听一节课 first
    qian.sent = 100  # qian answers later
    qian.say_all(("/承诺", LI_PLEDGE[1], "每月记录一次", "6月15日", "1"))
    assert "copied" in _flags(engine, "qian")[0]
    li.sent = 200  # li edits her pledge after qian copied from it, keeping that item
    li.say_all(KEEP_EVERYTHING)
    assert "copied" not in _flags(engine, "li")[0]
    qian.sent = 300  # and qian's copy stays a copy when she edits hers
    qian.say_all(("/修改 承诺", "不变", "不变", "不变", "1"))
    assert "copied" in _flags(engine, "qian")[0]
