"""/自评: a member's self-assessment and a secretary's 党组织自评, private to them, secretary and committee."""
from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import Session

from bot.campaigns import load_campaign_text, save_campaign
from storage.db import transaction
from storage.models import Outbox, SelfAssessment, TaskDone
from tests.test_pledge_form import LI_PLEDGE, ZHANG_BRANCH_PLEDGE, Phone
from tests.test_scheduler import load

CAMPAIGN = """
name: 自评测试
source: tests
standards: {member: 五带头, branch: 五个好}
standard_sets:
  五带头: {items: [带头学习提高, 带头服务群众]}
  五个好: {items: [领导班子好, 群众反映好]}
phases:
  - name: 查找差距
    start: 2026-03-02
    end: 2026-04-30
    tasks:
      - {id: member-self, title: 党员自评, kind: self_assessment, audience: members, due: 2026-03-31}
      - {id: branch-self, title: 党组织自评, kind: self_assessment, audience: branches, due: 2026-03-31}
"""


@pytest.fixture
def campaign(engine, rostered):
    with transaction(engine) as session:
        return save_campaign(session, load_campaign_text(CAMPAIGN), source_file="test").record


def saved(engine) -> list[SelfAssessment]:
    with Session(engine) as session:
        return list(session.scalars(select(SelfAssessment)))


def test_member_self_assessment_is_private(engine, campaign):
    qian = Phone(engine, "qian")
    assert "带头学习提高" in qian.say("/自评")[0]
    assert "请回复选项前的数字" in qian.say("很好")[0]
    for answer in ("2", "读书少，笔记不系统", "每月读一本书写一篇笔记", "一般", "走访家长不够", "每学期家访五户", "1"):
        reply = qian.say(answer)
    assert "只有你本人、支部书记和党委能看到" in reply[0]
    [assessment] = saved(engine)
    assert assessment.kind == "member" and [i["rating"] for i in assessment.items] == ["较好", "一般"]
    with Session(engine) as session:
        assert not [r for r in session.scalars(select(Outbox)) if r.endpoint == "appchat/send" and "自评" in str(r.payload)]
        assert {t.subject for t in session.scalars(select(TaskDone))} == {"qian"}


def test_secretary_does_the_branch_assessment(engine, campaign):
    zhang = Phone(engine, "zhang")
    assert "哪一种自评" in zhang.say("/自评")[0]
    assert "领导班子好" in zhang.say("2")[0]
    for answer in ("好", "组织生活不够规范", "每月按时开好组织生活会", "较好", "听取意见渠道少", "每学期开一次座谈会", "1"):
        zhang.say(answer)
    [assessment] = saved(engine)
    assert assessment.kind == "branch" and assessment.items[0]["standard"] == "领导班子好"
    with Session(engine) as session:
        assert {t.subject for t in session.scalars(select(TaskDone))} == {"branch:1"}


def test_masses_cannot_self_assess(engine, campaign):
    assert "只有" in Phone(engine, "wang").say("/自评")[0]


def test_exports_open_in_openpyxl_with_the_expected_rows(engine, campaign, db_url, monkeypatch, tmp_path, capsys):
    from openpyxl import load_workbook

    from bot.cli import main

    test_member_self_assessment_is_private(engine, campaign)
    load(engine)  # the pledge campaign of the pledge tests
    Phone(engine, "li").say_all(LI_PLEDGE)
    monkeypatch.setenv("DATABASE_URL", db_url)
    out = tmp_path / "records" / "pledges.xlsx"
    assert main(["export", "pledges", "--campaign", "测试活动", "--out", str(out)]) == 0
    book = load_workbook(out)
    assert book.sheetnames == ["第一党支部"]
    rows = list(book["第一党支部"].iter_rows(values_only=True))
    assert rows[0][:3] == ("姓名", "账号", "标准") and len(rows) == 3 and rows[1][:3] == ("李娜", "li", "带头学习提高")
    out = tmp_path / "self.xlsx"
    assert main(["export", "self-assessments", "--campaign", "自评测试", "--out", str(out)]) == 0
    rows = list(load_workbook(out)["第二党支部"].iter_rows(values_only=True))
    assert [r[4] for r in rows[1:]] == ["较好", "一般"]
    assert main(["export", "pledges", "--campaign", "没有这个", "--out", str(out)]) == 1
    assert "没有名为" in capsys.readouterr().err


def test_export_has_both_a_secretarys_own_pledge_and_the_branchs(engine, rostered, db_url, monkeypatch, tmp_path):
    """Regression: the export kept one pledge per account, so a secretary's own pledge or the branch's was lost."""
    from openpyxl import load_workbook

    from bot.cli import main

    load(engine)
    zhang = Phone(engine, "zhang")
    zhang.say_all(("/承诺", "每周听一节课", "每月记录一次", "6月15日", "1"))
    zhang.say_all(ZHANG_BRANCH_PLEDGE)
    monkeypatch.setenv("DATABASE_URL", db_url)
    out = tmp_path / "pledges.xlsx"
    assert main(["export", "pledges", "--campaign", "测试活动", "--out", str(out)]) == 0
    standards = [r[2] for r in load_workbook(out)["第一党支部"].iter_rows(min_row=2, values_only=True)]
    assert standards == ["带头学习提高", "目标", "任务", "计划", "措施", "承诺"]


def test_party_analysis_and_star_indicators_when_the_campaign_asks(engine, rostered):
    text = CAMPAIGN.replace("title: 党员自评", "title: 党员自评和党性分析").replace(
        "standards: {member: 五带头, branch: 五个好}", "standards: {member: 五带头, branch: 五个好, stars: 五星}").replace(
        "  五个好: {items: [领导班子好, 群众反映好]}", "  五个好: {items: [领导班子好, 群众反映好]}\n  五星: {items: [班子建设, 作用发挥]}"
    ).replace("phases:", "rules: {star_satisfaction_min: 0.9, star_participation_min: 0.9, red_flag_min: 0.95}\nphases:", 1)
    with transaction(engine) as session:
        save_campaign(session, load_campaign_text(text), source_file="test")
    qian = Phone(engine, "qian")
    qian.say("/自评")
    for answer in ("2", "读书少", "每月读一本书", "一般", "家访不够", "每学期家访五户"):
        reply = qian.say(answer)
    assert "党性分析" in reply[0]
    qian.say("宗旨意识还要加强，要多听群众意见")
    qian.say("1")
    zhang = Phone(engine, "zhang")
    assert "五星指标自评" in zhang.say("/自评")[0]
    first = zhang.say("3")[0]
    assert "班子建设" in first and "答“好”即申报这颗星" in first
    assert "方案未规定，本活动默认：五星指标自评为“好”才可能计星" in first  # the test campaign leaves it open
    asked = zhang.say("1")[0]
    assert "有哪些事实和记录能说明本支部“班子建设”" in asked and "差距" not in asked
    zhang.say("党委会会议记录，年度测评优秀")
    assert "申报" not in zhang.replies()[-1] and "作用发挥" in zhang.replies()[-1]
    zhang.say("2")
    zhang.say("每月主题党日有记录")
    assert "依据：党委会会议记录，年度测评优秀" in zhang.replies()[-1]
    zhang.say("1")
    kinds = {a.kind: a for a in saved(engine)}
    assert kinds["member"].items[-1]["standard"] == "党性分析"
    # a 五星 claim is each indicator's answer with its evidence (what the committee confirms, star by star)
    assert kinds["stars"].items == [
        {"standard": "班子建设", "rating": "好", "evidence": "党委会会议记录，年度测评优秀"},
        {"standard": "作用发挥", "rating": "较好", "evidence": "每月主题党日有记录"}]
