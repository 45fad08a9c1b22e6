"""Rating rounds (issue 17, finding 7): one rating per branch per rating task, with the history shown.

seed002 rates its branches twice: 定级 in phase 1 (classify, 3月1日—4月20日) and 评估 in phase 4
(committee-evaluation, 8月21日—9月30日). Each round keeps its own rating, and wherever a rating is
shown (/定级's list and detail, the card in the branch group, the export) a branch rated before shows
how its level moved: 一般 → 较强（晋位升级）.
"""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text
from sqlmodel import Session

from bot.campaigns import load_campaign_file, save_campaign
from bot.dispatch import Dispatcher
from bot.handlers import ROUTERS
from bot.wecom.updates import parse_update
from storage.db import transaction
from storage.models import CampaignTask, Rating, TaskDone
from tests.conftest import text_xml
from tests.test_campaign_files import CAMPAIGNS
from tests.test_dispatch import replies
from tests.test_rating_command import assess, branch_id, chat_posts, poll

TZ = ZoneInfo("Asia/Shanghai")
PHASE_1, BETWEEN, PHASE_4 = date(2012, 4, 10), date(2012, 5, 10), date(2012, 9, 10)


@pytest.fixture
def seed002(engine, rostered):
    with transaction(engine) as session:
        return save_campaign(session, load_campaign_file(CAMPAIGNS / "seed002.yaml"), source_file="seed002").record


def say(engine, text_: str, on: date, userid: str = "sun") -> list[str]:
    """What `userid` (sun is the committee) types on that day at 10:00, and the replies to it."""
    moment = int(datetime(on.year, on.month, on.day, 10, tzinfo=TZ).timestamp())
    before = len(replies(engine, userid))
    Dispatcher(engine, ROUTERS).feed_update(parse_update(text_xml(userid, text_, create_time=moment)))
    return replies(engine, userid)[before:]


def rounds(engine) -> list[tuple[str, str, str]]:
    """第一党支部's ratings: (round, level, status), oldest round first."""
    with Session(engine) as session:
        stmt = (select(CampaignTask.key, Rating.level, Rating.status).join(CampaignTask, CampaignTask.id == Rating.task_id)
                .where(Rating.branch_id == branch_id(engine, "第一党支部")).order_by(CampaignTask.due))
        return [tuple(row) for row in session.execute(stmt)]


@pytest.fixture
def two_rounds(engine, seed002):
    """第一党支部 rated 一般 in phase 1 and 较强 in phase 4, each confirmed."""
    # phase 1: 自评 5 × 一般 = 70, 满意率 75 %, 上级 60: 70×0.3 + 75×0.4 + 60×0.3 = 21 + 30 + 18 = 69 → 一般
    assess(engine, seed002, "第一党支部", ["一般"] * 5, at=1.0)
    poll(engine, seed002, "第一党支部", rate=0.75, closed_at=1.0)
    say(engine, "/定级 第一党支部 上级 60", PHASE_1)
    assert "已确认第一党支部的分类定级：一般" in say(engine, "/定级 确认 第一党支部", PHASE_1)[0]
    # phase 4: 自评 5 × 较好 = 85, 满意率 13/15 → 86.67, 上级 80: 25.5 + 34.668 + 24 = 84.17 → 较强
    assess(engine, seed002, "第一党支部", ["较好"] * 5, at=2.0)
    poll(engine, seed002, "第一党支部", rate=13 / 15, closed_at=2.0, subject="三级联评")
    [detail] = say(engine, "/定级 第一党支部 上级 80", PHASE_4)
    assert "建议：较强（84.17 分）" in detail and "历次定级：一般 → 较强（晋位升级）" in detail
    [confirmed] = say(engine, "/定级 确认 第一党支部", PHASE_4)
    assert "已确认第一党支部的分类定级：较强" in confirmed and "历次定级：一般 → 较强（晋位升级）。" in confirmed
    return seed002


def test_each_round_keeps_its_own_rating_and_task(engine, two_rounds):
    assert rounds(engine) == [("classify", "一般", "confirmed"), ("committee-evaluation", "较强", "confirmed")]
    with Session(engine) as session:
        done = {(session.get(CampaignTask, t.task_id).key, t.subject) for t in session.scalars(select(TaskDone))}
    first = f"branch:{branch_id(engine, '第一党支部')}"
    assert done == {("classify", first), ("committee-evaluation", first)}


def test_the_group_and_the_committee_see_the_history(engine, two_rounds):
    first_card, second_card = chat_posts(engine)
    assert "**第一党支部·分类定级：一般**" in first_card and "历次定级" not in first_card  # rated for the first time
    assert "**第一党支部·分类定级：较强**" in second_card and "**历次定级**：一般 → 较强（晋位升级）" in second_card
    assert "局党委评估各支部（总支）开展基层组织建设年情况" in second_card  # the round it was decided in
    [detail] = say(engine, "/定级 第一党支部", PHASE_4)
    assert "已确认：较强" in detail and "历次定级：一般 → 较强（晋位升级）" in detail
    [listing] = say(engine, "/定级", PHASE_4)
    assert "本轮：局党委评估各支部（总支）开展基层组织建设年情况（9月30日前）" in listing
    first_row = listing.split("1. ")[1].split("2. ")[0]
    assert "第一党支部：较强 84.17 分（已确认）" in first_row and "历次：一般 → 较强（晋位升级）" in first_row
    assert "历次" not in listing.split("2. ")[1]  # 第二党支部 was never rated


def test_a_new_round_starts_from_its_own_proposal(engine, seed002):
    """Phase 4 does not inherit phase 1's 上级评定 or confirmation; a lower level reads 等级下降."""
    assess(engine, seed002, "第一党支部", ["较好"] * 5)
    poll(engine, seed002, "第一党支部", rate=13 / 15)
    say(engine, "/定级 第一党支部 上级 80", PHASE_1)
    say(engine, "/定级 确认 第一党支部", PHASE_1)
    [detail] = say(engine, "/定级 第一党支部", PHASE_4)
    assert "建议：暂不能定级" in detail and "上级党组织评定：缺（还没有录入）" in detail
    [detail] = say(engine, "/定级 第一党支部 上级 40", PHASE_4)  # 25.5 + 34.668 + 12 = 72.17 → 一般
    assert "建议：一般（72.17 分）" in detail and "历次定级：较强 → 一般（等级下降）" in detail
    assert rounds(engine) == [("classify", "较强", "confirmed"), ("committee-evaluation", "一般", "proposed")]


def test_between_the_rounds_the_committee_is_told_when_it_can_rate(engine, seed002):
    from storage.campaigns import mark_done

    with transaction(engine) as session:  # every branch of the first round confirmed
        classify = session.scalars(select(CampaignTask).where(CampaignTask.key == "classify")).one()
        mark_done(session, task_id=classify.id, subject="committee")
    [reply] = say(engine, "/定级", BETWEEN)
    assert "今天（5月10日）不在分类定级的时间里" in reply
    assert "局党委分类定级：3月1日—4月20日" in reply
    assert "局党委评估各支部（总支）开展基层组织建设年情况：8月21日—9月30日" in reply
    assert rounds(engine) == []


def test_a_round_not_finished_in_its_window_is_finished_late_and_counted_for_itself(engine, seed002):
    """The first round's window is over and nobody was confirmed: /定级 still works on it (finding 7 and the
    rehearsal with --late 30: a late confirmation was counted for no round)."""
    [reply] = say(engine, "/定级", BETWEEN)
    assert "本轮：局党委分类定级（4月20日前）" in reply and "不在分类定级的时间里" not in reply
    assert rounds(engine) == [("classify", "", "proposed")]


def test_the_export_lists_every_round_with_its_history(engine, two_rounds, db_url, monkeypatch, tmp_path):
    from openpyxl import load_workbook

    from bot.cli import main

    monkeypatch.setenv("DATABASE_URL", db_url)
    out = tmp_path / "ratings.xlsx"
    assert main(["export", "ratings", "--campaign", two_rounds.name, "--out", str(out)]) == 0
    rows = list(load_workbook(out)["分类定级"].iter_rows(values_only=True))
    header = rows[0]
    at = {name: header.index(name) for name in ("支部", "定级轮次", "得分", "等级", "历次等级", "状态")}
    first = [[row[i] for i in at.values()] for row in rows[1:] if row[at["支部"]] == "第一党支部"]
    assert first == [
        ["第一党支部", rows[1][at["定级轮次"]], 69, "一般", None, "已确认"],
        ["第一党支部", rows[2][at["定级轮次"]], 84.17, "较强", "一般 → 较强（晋位升级）", "已确认"]]
    assert first[0][1].startswith("局党委分类定级") and first[1][1].startswith("局党委评估")


def test_the_upgrade_attaches_an_existing_rating_to_the_first_rating_round(engine, db_url, seed002):
    from alembic import command

    from storage.migrate import alembic_config, upgrade

    command.downgrade(alembic_config(db_url), "0012")  # the schema before rating rounds
    first = branch_id(engine, "第一党支部")
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO rating (campaign_id, branch_id, inputs, score, level, stars, red_flag, rule_version, status, "
            "confirmed_by, confirmed_at, created_at) VALUES (:c, :b, '{\"superior\": 60}', 69, '一般', '[]', false, "
            "'v', 'confirmed', 'sun', 1.0, 1.0)"), {"c": seed002.id, "b": first})
    upgrade(db_url)
    assert rounds(engine) == [("classify", "一般", "confirmed")]
    with Session(engine) as session:
        [kept] = session.scalars(select(Rating))
    assert (kept.score, kept.inputs, kept.confirmed_by) == (69, {"superior": 60}, "sun")


def test_a_downgrade_keeps_each_branchs_latest_round(engine, db_url, two_rounds):
    from alembic import command

    from storage.migrate import alembic_config

    command.downgrade(alembic_config(db_url), "0012")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT level FROM rating")).scalars().all() == ["较强"]


def test_a_round_dropped_from_the_file_takes_its_ratings_along(engine, seed002):
    """Reloading a file without a rated round is not refused by the ratings that hang on it."""
    from bot.campaigns import load_campaign_text

    say(engine, "/定级", PHASE_1)  # proposals for both branches in the first round
    assert rounds(engine) == [("classify", "", "proposed")]
    content = (CAMPAIGNS / "seed002.yaml").read_text(encoding="utf-8")
    start = content.index("      - id: classify")
    without = content[:start] + content[content.index("\n  - name:", start) + 1:]
    with transaction(engine) as session:
        save_campaign(session, load_campaign_text(without), source_file="seed002")
    assert rounds(engine) == []


def test_what_the_plan_leaves_open_is_named_as_the_campaigns_default_where_a_rating_uses_it(engine, two_rounds):
    """seed002 states the four levels but not the weights, the level lines or the self-assessment points."""
    card = chat_posts(engine)[0]
    [detail] = say(engine, "/定级 第一党支部", PHASE_4)
    for shown in (card, detail):
        defaults = next(line for line in shown.splitlines() if line.startswith("方案未规定，本活动默认"))
        assert "定级线" in defaults and "折合" in defaults and "占" in defaults
        assert "定级分为" not in defaults  # stated by the plan: not a default
