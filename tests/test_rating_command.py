"""/定级 through the dispatcher: proposals from stored inputs, the committee's 上级评定, confirmation and
the card in the branch group; and `xianfeng export ratings|polls`."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlmodel import Session

from bot.campaigns import load_campaign_text, save_campaign
from storage.db import transaction
from storage.models import Branch, CampaignTask, Outbox, Poll, Rating, SelfAssessment, TaskDone
from storage.people import branch_by_name
from tests.test_pledge_form import Phone
from tests.test_ratings import FIVE_GOOD, FIVE_STARS

CAMPAIGN = f"""
name: 定级测试
source: tests
standards: {{member: 五带头, branch: 五个好, stars: 五星}}
standard_sets:
  五带头: {{items: [带头学习提高]}}
  五个好: {{items: [{", ".join(FIVE_GOOD)}]}}
  五星: {{items: [{", ".join(FIVE_STARS)}]}}
rules: {{star_satisfaction_min: 0.90, star_participation_min: 0.90, red_flag_min: 0.95}}
phases:
  - name: 分类定级
    start: 2026-03-02
    end: 2026-04-20
    tasks:
      - {{id: classify, title: 局党委分类定级, kind: rating, audience: committee, due: 2026-04-20}}
  - name: 评估
    start: 2026-04-21
    end: 2026-04-30
    tasks:
      - {{id: evaluate, title: 局党委评估, kind: rating, audience: committee, due: 2026-04-30}}
"""  # two rating rounds; Phone's messages (2026-03-05) fall in the first


@pytest.fixture
def campaign(engine, rostered):
    with transaction(engine) as session:
        return save_campaign(session, load_campaign_text(CAMPAIGN), source_file="test").record


def branch_id(engine, name: str) -> int:
    with Session(engine) as session:
        return branch_by_name(session, name=name).id


def assess(engine, campaign, name: str, answers, kind: str = "branch", at: float = 1.0) -> None:
    standards = FIVE_GOOD if kind == "branch" else FIVE_STARS
    items = [{"standard": s, "rating": a, "gap": "", "measure": ""} for s, a in zip(standards, answers, strict=True)]
    with transaction(engine) as session:
        session.add(SelfAssessment(campaign_id=campaign.id, userid="zhang", branch_id=branch_id(engine, name),
                                   kind=kind, items=items, submitted_at=at))


def poll(engine, campaign, name: str, *, rate: float | None, member_turnout: float = 0.5, closed_at: float = 1.0,
         subject: str = "支部满意度测评", status: str = "closed") -> None:
    published = rate is not None
    result = {"counts": {"满意": 13, "基本满意": 0, "不满意": 2} if published else {}, "valid": 15 if published else None,
              "eligible": 20, "voted": 15, "turnout": 0.75, "member_eligible": 4, "member_voted": 2,
              "member_turnout": member_turnout, "published": published, "rate": rate,
              "formula": "满意率 =（满意 + 基本满意）/ 有效票", "comments": ["很好"], "satisfied": ["满意", "基本满意"]}
    with transaction(engine) as session:
        session.add(Poll(campaign_id=campaign.id, branch_id=branch_id(engine, name), issuer="zhang", rates="branch",
                         subject=subject, scale="满意度", options=["满意", "基本满意", "不满意"],
                         satisfied=["满意", "基本满意"], voters="both", deadline=1.7e9, status=status,
                         closed_at=closed_at, result=result))


def chat_posts(engine) -> list[str]:
    with Session(engine) as session:
        rows = session.scalars(select(Outbox).where(Outbox.endpoint == "appchat/send").order_by(Outbox.id))
        return [r.payload["markdown"]["content"] for r in rows if "markdown" in r.payload]


def ratings(engine) -> dict[str, Rating]:
    with Session(engine) as session:
        names = {b.id: b.name for b in session.scalars(select(Branch))}
        return {names[r.branch_id]: r for r in session.scalars(select(Rating))}


@pytest.fixture
def first(engine, campaign):
    """第一党支部: 党组织自评 all 较好 (85), a published poll at 13/15 → 86.67; 第二党支部: nothing yet."""
    assess(engine, campaign, "第一党支部", ["较好"] * 5)
    poll(engine, campaign, "第一党支部", rate=13 / 15)
    return campaign


def test_the_list_shows_each_branch_and_what_is_missing(engine, first):
    [reply] = Phone(engine, "sun").say("/定级")
    assert "定级测试·分类定级（已确认 0/2）" in reply
    first_line = reply.split("1. ")[1].split("2. ")[0]
    assert "第一党支部：暂不能定级（建议）" in first_line and "自评 85｜评议 86.67%｜上级 —" in first_line
    assert "缺：上级党组织评定" in first_line
    assert "缺：党组织自评、党员群众评议、上级党组织评定" in reply.split("2. ")[1]
    assert {name: r.status for name, r in ratings(engine).items()} == {"第一党支部": "proposed", "第二党支部": "proposed"}


def test_enter_the_superior_score_confirm_and_the_card_explains_itself(engine, first):
    sun = Phone(engine, "sun")
    [reply] = sun.say("/定级 第一党支部 上级 80 表彰 无")
    # 85×0.3 + 86.67×0.4 + 80×0.3 = 25.5 + 34.668 + 24 = 84.168 → 84.17 → 较强
    assert reply.startswith("已记录") and "建议：较强（84.17 分）" in reply
    assert "得分 = 85×0.3 + 86.67×0.4 + 80×0.3 = 84.17" in reply and "领导班子好 较好" in reply
    assert "再得 5.83 分可定为“强”：例如上级评定提高 19.44 分" in reply
    assert "未受县级以上表彰" in reply and "五星：0/5" in reply
    [reply] = sun.say("/定级 确认 第一党支部")
    assert "已确认第一党支部的分类定级：较强" in reply and "已发到第一党支部的群里" in reply
    [card] = chat_posts(engine)
    hash8 = first.content_hash[:8]
    for words in ("**第一党支部·分类定级：较强**", "> 党组织自评：85 分，权重 0.3", "满意率 86.67%，计 86.67 分，权重 0.4",
                  "> 上级党组织评定：80 分，权重 0.3", "得分 = 85×0.3 + 86.67×0.4 + 80×0.3 = 84.17",
                  "定级线：强 ≥ 90，较强 ≥ 75，一般 ≥ 60，低于的为薄弱", "再得 5.83 分可定为“强”",
                  "满意率 =（满意 + 基本满意）/ 有效票", f"规则：定级测试·{hash8}", "孙丽", "红旗党组织：否"):
        assert words in card, words
    assert "领导班子好 较好" not in card  # the 党组织自评 itself stays with the committee
    rating = ratings(engine)["第一党支部"]
    assert (rating.status, rating.confirmed_by, rating.level, rating.score) == ("confirmed", "sun", "较强", 84.17)
    assert rating.rule_version == f"定级测试·{hash8}" and rating.inputs["superior"] == 80
    with Session(engine) as session:
        done = [(session.get(CampaignTask, t.task_id).key, t.subject) for t in session.scalars(select(TaskDone))]
    assert done == [("classify", f"branch:{branch_id(engine, '第一党支部')}")]  # the round open today, of two


def test_no_confirmation_while_an_input_is_missing(engine, first):
    sun = Phone(engine, "sun")
    [reply] = sun.say("/定级 确认 第一党支部")
    assert "还不能确认" in reply and "上级党组织评定：缺（还没有录入）" in reply
    poll(engine, first, "第二党支部", rate=None)  # closed under the ballot threshold
    sun.say("/定级 第二党支部 上级 90")
    [reply] = sun.say("/定级 确认 第二党支部")
    assert "还不能确认" in reply and "评议票数不足，结果不公布，不能计入" in reply
    assert chat_posts(engine) == [] and {r.status for r in ratings(engine).values()} == {"proposed"}


def test_changed_inputs_are_shown_before_they_are_confirmed(engine, first):
    sun = Phone(engine, "sun")
    sun.say("/定级 第一党支部 上级 80")
    poll(engine, first, "第一党支部", rate=0.95, closed_at=2.0, subject="第二次满意度测评")  # a later poll closes
    [reply] = sun.say("/定级 确认 第一党支部")
    # 25.5 + 95×0.4 (38) + 24 = 87.5
    assert "定级依据有变化" in reply and "87.5 分" in reply and "第二次满意度测评" in reply
    assert ratings(engine)["第一党支部"].status == "proposed" and chat_posts(engine) == []
    assert "已确认" in sun.say("/定级 确认 第一党支部")[0]


def test_a_confirmed_rating_changes_only_after_it_is_reopened(engine, first):
    sun = Phone(engine, "sun")
    sun.say("/定级 第一党支部 上级 80")
    sun.say("/定级 确认 第一党支部")
    assert "已确认" in sun.say("/定级 确认 第一党支部")[0]  # again: nothing new
    [reply] = sun.say("/定级 第一党支部 上级 99")
    assert "不能直接修改" in reply and ratings(engine)["第一党支部"].inputs["superior"] == 80
    assert "还没有确认" in sun.say("/定级 重新 第二党支部")[0]
    [reply] = sun.say("/定级 重新 第一党支部")
    reopened = ratings(engine)["第一党支部"]
    assert "已撤回确认" in reply and (reopened.status, reopened.confirmed_by, reopened.confirmed_at) == ("proposed", None, None)
    sun.say("/定级 第一党支部 上级 99")  # 25.5 + 34.668 + 29.7 = 89.868 → 89.87, still 较强
    sun.say("/定级 确认 第一党支部")
    assert len(chat_posts(engine)) == 2 and "89.87" in chat_posts(engine)[1]


def test_stars_and_red_flag_where_the_campaign_has_them(engine, campaign):
    assess(engine, campaign, "第一党支部", ["好"] * 5)
    assess(engine, campaign, "第一党支部", ["好"] * 4 + ["较好"], kind="stars")
    poll(engine, campaign, "第一党支部", rate=0.96, member_turnout=0.75)
    sun = Phone(engine, "sun")
    sun.say("/定级 第一 上级 92 表彰 有")  # a part of the name is enough when it names one branch
    [reply] = sun.say("/定级 确认 第一党支部")
    assert "已确认第一党支部的分类定级：强" in reply  # 30 + 38.4 + 27.6 = 96
    [card] = chat_posts(engine)
    assert "五星：4/5（班子建设、工作制度、保障机制、工作业绩）" in card and "红旗党组织：是" in card
    assert "未计入“作用发挥”：五星自评为“较好”，需“好”；党员参与率 75%，需达到 90%" in card
    assert "已是最高一级" in card and ratings(engine)["第一党支部"].red_flag is True


@pytest.mark.parametrize("text, answer", [
    ("/定级 第一党支部 上级 120", "0 到 100 之间"),
    ("/定级 第一党支部 上级 八十", "没看懂“上级 八十”"),
    ("/定级 第一党支部 很好", "没看懂“很好”"),
    ("/定级 确认", "请写上支部名"),
    ("/定级 第九党支部", "没有找到唯一叫“第九党支部”的支部。现有支部：第一党支部、第二党支部"),
    ("/定级 党支部", "没有找到唯一叫“党支部”"),
])
def test_bad_input_gets_a_clear_answer_and_changes_nothing(engine, first, text, answer):
    [reply] = Phone(engine, "sun").say(text)
    assert answer in reply
    assert ratings(engine) == {}


def test_full_width_digits_and_only_the_committee(engine, first):
    assert "建议：较强" in Phone(engine, "sun").say("/定级 第一党支部 上级 ８０")[0]
    assert "只有党委可以使用" in Phone(engine, "zhang").say("/定级")[0]
    assert "只有党委可以使用" in Phone(engine, "wang").say("定级")[0]


def test_no_campaign_with_a_rating_task(engine, rostered):
    assert "暂时不能定级" in Phone(engine, "sun").say("/定级")[0]


def test_exports(engine, first, db_url, monkeypatch, tmp_path):
    from openpyxl import load_workbook

    from bot.cli import main

    poll(engine, first, "第二党支部", rate=None, subject="第二支部测评")
    poll(engine, first, "第二党支部", rate=None, subject="进行中的测评", status="open", closed_at=None)
    sun = Phone(engine, "sun")
    sun.say("/定级")
    sun.say("/定级 第一党支部 上级 80 表彰 有")
    sun.say("/定级 确认 第一党支部")
    monkeypatch.setenv("DATABASE_URL", db_url)
    out = tmp_path / "ratings.xlsx"
    assert main(["export", "ratings", "--campaign", "定级测试", "--out", str(out)]) == 0
    rows = list(load_workbook(out)["分类定级"].iter_rows(values_only=True))
    assert rows[0][:10] == ("支部", "定级轮次", "党组织自评（分）", "满意率", "党员参与率", "上级党组织评定（分）",
                            "县级以上表彰", "得分", "等级", "历次等级")
    assert rows[1][:13] == ("第一党支部", "局党委分类定级", 85, 13 / 15, 0.5, 80, "是", 84.17, "较强", None, None, "否", None)
    assert rows[1][13:15] == ("已确认", "孙丽") and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", rows[1][15])
    assert rows[1][16] == f"定级测试·{first.content_hash[:8]}"
    assert rows[2][0] == "第二党支部" and rows[2][12] == "党组织自评、党员群众评议、上级党组织评定" and rows[2][13] == "待确认"
    assert load_workbook(out)["分类定级"].cell(row=2, column=4).number_format == "0.0%"  # 满意率
    out = tmp_path / "polls.xlsx"
    assert main(["export", "polls", "--campaign", "定级测试", "--out", str(out)]) == 0
    sheet = load_workbook(out)["评议"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][-3:] == ("“满意”票数", "“基本满意”票数", "“不满意”票数") and len(rows) == 4
    published = rows[1]
    assert published[:3] == ("第一党支部", "支部满意度测评", "满意度") and published[5:9] == ("已结束", 20, 15, 0.75)
    assert published[9:] == (15, 13 / 15, "满意率 =（满意 + 基本满意）/ 有效票", 13, 0, 2)
    assert sheet.cell(row=2, column=11).number_format == "0.0%"
    unpublished = rows[2]
    assert unpublished[1] == "第二支部测评" and unpublished[6:8] == (20, 15) and set(unpublished[9:]) == {None}
    assert rows[3][5] == "进行中" and "很好" not in str(rows)  # comments are never exported


def test_a_poll_closed_by_the_poll_engine_is_the_masses_input(engine, campaign):
    """The same path as real use: ballots, close_poll's stored result, then /定级 reads it."""
    from bot.poll_close import close_poll
    from storage import polls as store

    first_id = branch_id(engine, "第一党支部")
    with transaction(engine) as session:
        voters = store.eligible(session, branch_id=first_id, voters="both")
        made = store.create(session, voters=voters, poll=Poll(
            campaign_id=campaign.id, branch_id=first_id, issuer="zhang", rates="branch",
            subject="第一党支部满意度", scale="满意度", options=["满意", "基本满意", "不满意"],
            satisfied=["满意", "基本满意"], voters="both", deadline=1.7e9, min_ballots=3))
        for userid, choice in zip(voters, ["满意", "基本满意", "不满意"], strict=True):
            store.claim_vote(session, poll_id=made.id, userid=userid)
            store.add_ballot(session, poll_id=made.id, choice=choice)
    with transaction(engine) as session:
        close_poll(session, poll_id=made.id, tz="Asia/Shanghai")
    [reply] = Phone(engine, "sun").say("/定级 第一党支部")
    # 2 of 3 satisfied: 66.67 %; 党员参与率 2 of 2 (zhang, li) = 100 %
    assert "满意率 66.67%，计 66.67 分" in reply and "党员参与率 100%" in reply and "÷ 有效票 = 2 ÷ 3" in reply


def test_the_committee_owes_the_rating_task_until_every_branch_is_confirmed(engine, first):
    from datetime import date

    from bot.scheduler.obligations import Obligations
    from storage.models import Person

    assess(engine, first, "第二党支部", ["好"] * 5)
    poll(engine, first, "第二党支部", rate=14 / 15)
    sun = Phone(engine, "sun")

    def owed() -> list[str]:
        with Session(engine) as session:
            ob = Obligations(session, today=date(2026, 3, 10))
            return [o.task.key for o in ob.open_for(session.get(Person, "sun"))]

    sun.say("/定级 第一党支部 上级 80")
    sun.say("/定级 确认 第一党支部")
    assert "classify" in owed()
    sun.say("/定级 第二党支部 上级 90")
    sun.say("/定级 确认 第二党支部")
    assert "classify" not in owed()


@pytest.mark.parametrize("tz,shown", [("Asia/Shanghai", "2023-11-15 06:13"), ("UTC", "2023-11-14 22:13")])
def test_export_times_are_in_the_configured_time_zone(engine, first, db_url, monkeypatch, tmp_path, tz, shown):
    """Invariant 7: the poll's deadline (Unix 1.7e9) reads as XIANFENG_TZ says, not as the server's zone."""
    from openpyxl import load_workbook

    from bot.cli import main

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("XIANFENG_TZ", tz)
    monkeypatch.setenv("TZ", "America/New_York")  # a server elsewhere must not matter
    out = tmp_path / "polls.xlsx"
    assert main(["export", "polls", "--campaign", "定级测试", "--out", str(out)]) == 0
    assert list(load_workbook(out)["评议"].iter_rows(values_only=True))[1][4] == shown
