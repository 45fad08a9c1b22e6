"""The shipped campaign files (campaigns/seed000–004.yaml) load and say what their plans say.

Each seed test checks the phases and their dates, the deadlines the plan states and the standard sets
against the plan's text (quoted in the comments). The general tests check that every `source_text`
is really in the plan (when shared/seeds/ is beside the repository) and that every task falls inside
its own phase.
"""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
import yaml

from bot.campaigns import load_campaign_file

ROOT = Path(__file__).resolve().parents[1]
CAMPAIGNS = ROOT / "campaigns"
SEEDS = ROOT.parent / "shared" / "seeds"
FILES = [f"seed{n:03d}" for n in range(5)]
D = date


def load(name: str):
    return load_campaign_file(CAMPAIGNS / f"{name}.yaml")


def phases(campaign) -> list[tuple[str, date, date]]:
    return [(p.name, p.start, p.end) for p in campaign.phases]


def tasks(campaign) -> dict:
    return {t.id: t for p in campaign.phases for t in p.tasks}


def phase_of(campaign, task_id: str) -> str:
    return next(p.name for p in campaign.phases for t in p.tasks if t.id == task_id)


# -- every file -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", FILES)
def test_tasks_lie_in_their_phase_and_standards_are_defined(name: str) -> None:
    campaign = load(name)
    assert (campaign.start, campaign.end) == (campaign.phases[0].start, campaign.phases[-1].end)
    for phase in campaign.phases:
        for task in phase.tasks:
            assert phase.start <= task.due <= phase.end, (name, task.id, task.due, phase.name)
    for role in ("member", "branch"):
        assert campaign.standards[role] in campaign.standard_sets
    assert len(campaign.standard_sets[campaign.standards["branch"]].items) == 5
    assert len(campaign.standard_sets[campaign.standards["member"]].items) == 5


def _plain(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("name", FILES)
def test_every_source_text_is_quoted_from_the_plan(name: str) -> None:
    plans = list(SEEDS.glob(f"{name[-3:]}_*.txt")) if SEEDS.is_dir() else []
    if not plans:
        pytest.skip("shared/seeds/ is not beside the repository")
    plan = _plain(plans[0].read_text(encoding="utf-8"))
    data = yaml.safe_load((CAMPAIGNS / f"{name}.yaml").read_text(encoding="utf-8"))
    for phase in data["phases"]:
        for item in [phase, *phase.get("tasks", [])]:
            assert item.get("source_text"), (name, item.get("id", item.get("name")))
            for fragment in item["source_text"].split("……"):
                assert _plain(fragment) in plan, (name, item.get("id", item.get("name")), fragment)


def test_the_guides_example_loads(tmp_path: Path) -> None:
    guide = (ROOT / "docs" / "campaigns.md").read_text(encoding="utf-8")
    example = tmp_path / "example.yaml"
    example.write_text(re.search(r"```yaml\n(.*?)```", guide, re.DOTALL)[1], encoding="utf-8")
    campaign = load_campaign_file(example)
    assert campaign.start == D(2025, 5, 21) and campaign.end == D(2025, 12, 31)


def test_the_seed_names_are_unique() -> None:
    names = [load(name).name for name in FILES]
    assert len(set(names)) == len(names)


# -- seed 000: 沾益县教育局创先争优活动实施方案 ------------------------------------------------------
def test_seed000_zhanyi() -> None:
    c = load("seed000")
    assert phases(c) == [
        ("广泛发动、安排部署", D(2010, 5, 21), D(2010, 6, 30)),   # (5月下旬到6月底)
        ("全面争创、扎实推进", D(2010, 7, 1), D(2011, 7, 31)),    # (7月—2011年7月)
        ("示范带动、晋档升级", D(2011, 8, 1), D(2012, 6, 30)),    # (2011年7月—2012年6月), after the month phase 2 ends in
        ("系统总结、完善机制", D(2012, 7, 1), D(2012, 11, 7)),    # (2012年7月—党的十八大召开前)
    ]
    t = tasks(c)
    # “制定切实可行的创先争优活动方案,并于6月15日前报教育局创先争优活动领导小组办公室”
    assert (t["branch-plan"].kind, t["branch-plan"].audience, t["branch-plan"].due) == ("document", "branches", D(2010, 6, 15))
    # “三是公开承诺。采取适当方式向群众承诺,接受监督。”
    assert t["member-pledge"].kind == "pledge" and phase_of(c, "member-pledge") == "广泛发动、安排部署"
    # “要在“七一”前……组织党员进行一次党性分析……并组织群众对党员进行民主评议”
    assert (t["party-analysis"].kind, t["party-analysis"].audience, t["party-analysis"].due) == ("self_assessment", "members", D(2011, 6, 30))
    assert (t["member-poll-2011"].kind, t["member-poll-2011"].due) == ("poll", D(2011, 6, 30))
    # “每年底,还要结合民主评议党员活动开展一次“先锋”评比活动”
    assert [t[i].due for i in ("pioneer-poll-2010", "pioneer-poll-2011")] == [D(2010, 12, 31), D(2011, 12, 31)]
    # “四定一承诺一公开”……“定期将承诺事项的落实情况向师生公开”；“三是考核评议”
    assert {t[i].kind for i in ("branch-four-set-pledge", "branch-pledge-progress", "final-poll")} == {"pledge", "progress", "poll"}
    assert t["final-poll"].due == D(2012, 11, 7)
    assert c.standards["member"] == "五带头" and c.standards["branch"] == "五个好"
    assert c.standard_sets["五带头"].items == ["带头学习提高", "带头争创佳绩", "带头服务群众", "带头遵纪守法", "带头弘扬正气"]
    assert c.standard_sets["五个好"].items == ["领导班子好", "党员队伍好", "工作机制好", "工作业绩好", "群众反映好"]
    assert len(c.standard_sets["六看"].items) == 6
    # “评议满意率达不到80%的基层党组织和党员,取消评先评优资格”
    assert c.rules.lose_eligibility_below == pytest.approx(0.80)
    assert c.rules.scales["满意度"].satisfied == ["满意", "基本满意"]  # 方案未规定: a marked default
    assert c.rules.is_default("scales") and not c.rules.is_default("lose_eligibility_below")


# -- seed 001: 东湖区教科体局关于深入开展创先争优活动实施方案 ------------------------------------------
def test_seed001_donghu() -> None:
    c = load("seed001")
    assert phases(c) == [
        ("宣传发动", D(2010, 5, 21), D(2010, 6, 20)),     # （2010年5月下旬——6月中旬）
        ("组织实施", D(2010, 6, 21), D(2012, 6, 30)),     # （2010年6月——2012年6月）, after phase 1 ends
        ("评选表彰", D(2012, 7, 1), D(2012, 7, 31)),      # （2010年底，2011年、2012年“七一”前后）: the last of the three
    ]
    t = tasks(c)
    assert (t["branch-plan"].kind, t["branch-plan"].due) == ("document", D(2010, 6, 20))
    assert {t["member-pledge"].kind, t["branch-pledge"].kind} == {"pledge"}
    # “局党委负责人每半年……进行一次点评”；“每半年组织党员、群众进行评议”
    half_years = [D(2010, 12, 31), D(2011, 6, 30), D(2011, 12, 31), D(2012, 6, 30)]
    assert [task.due for task in t.values() if task.id.startswith("review-")] == half_years
    assert all(t[i].audience == "committee" for i in t if i.startswith("review-"))
    assert [task.due for task in t.values() if task.id.startswith("branch-poll-")] == half_years
    assert [task.due for task in t.values() if task.id.startswith("member-poll-")] == half_years
    assert all(t[i].kind == "poll" for i in t if "-poll-" in i)
    # “系统各单位每个年度都要对活动开展情况进行系统梳理”
    assert [t[f"branch-summary-{y}"].due for y in (2010, 2011, 2012)] == [D(2010, 12, 31), D(2011, 12, 31), D(2012, 7, 31)]
    assert c.standards["member"] == "五个模范"
    assert c.standard_sets["五个模范"].items == ["学习钻研的模范", "爱岗敬业的模范", "为人师表的模范", "遵纪守法的模范", "服务群众的模范"]
    assert c.standard_sets["五个好"].items[0] == "领导班子好"


# -- seed 002: 蒲城县教育局基层组织建设年实施方案（2012） ----------------------------------------------
def test_seed002_pucheng() -> None:
    c = load("seed002")
    assert phases(c) == [
        ("调查摸底、分类定级", D(2012, 3, 1), D(2012, 4, 20)),    # (3月上旬—4月中旬)
        ("集中整改、晋位升级", D(2012, 4, 21), D(2012, 6, 30)),   # (4月下旬—6月)
        ("学习先进、创先争优", D(2012, 7, 1), D(2012, 8, 20)),    # (7月—8月中旬)
        ("分析评估、巩固成果", D(2012, 8, 21), D(2012, 9, 30)),   # (8月中旬—9月), after phase 3 ends
    ]
    t = tasks(c)
    # “采取“党组织自评、党员群众评议、上级党组织评定”的方法……进行分类定级”
    first = c.phases[0].tasks
    assert [(x.kind, x.audience) for x in first] == [("self_assessment", "branches"), ("poll", "branches"), ("rating", "committee")]
    assert t["classify"].due == D(2012, 4, 20)
    # “(2)公开承诺。各支部(总支)研究制定整改方案……明确责任、明确要求、明确措施、明确时限,并作出公开承诺”
    assert (t["rectification-pledge"].kind, t["rectification-pledge"].audience) == ("pledge", "branches")
    assert phase_of(c, "rectification-pledge") == "集中整改、晋位升级"
    assert t["rectification-progress"].kind == "progress"
    # “(2)三级联述联评联考……组织支部(总支)、党员和群众代表……进行评议”
    assert (t["three-level-poll"].kind, t["three-level-poll"].due) == ("poll", D(2012, 9, 30))
    assert t["committee-evaluation"].kind == "rating"
    # “按照“强、较强、一般、薄弱”四个等级”
    assert c.rules.rating_levels == ["强", "较强", "一般", "薄弱"]
    assert sum(c.rules.rating_weights.values()) == pytest.approx(1)
    assert c.standards["branch"] == "五个好"
    assert c.standard_sets["五型支部"].items == ["效率型", "责任型", "学习型", "服务型", "廉政型"]


# -- seed 003: 文法学院稳步推进创先争优实施方案 ------------------------------------------------------
def test_seed003_college() -> None:
    c = load("seed003")
    assert phases(c) == [
        ("学习动员、组织部署", D(2010, 5, 27), D(2010, 10, 31)),  # 5月27日……計劃在10月底前
        ("全面争创、扎实推进", D(2010, 11, 1), D(2011, 6, 30)),   # 從今年11月起到2011年6月底
        ("查找差距、全面提升", D(2011, 7, 1), D(2012, 6, 30)),    # 從2011年7月至2012年6月底
        ("系统总结、固化成果", D(2012, 7, 1), D(2012, 11, 7)),    # 從2012年7月到黨的十八大
    ]
    t = tasks(c)
    # “計劃在10月底前,各支部……精心制定方案,對全體黨員進行動員部署”
    assert (t["branch-plan"].kind, t["branch-plan"].audience, t["branch-plan"].due) == ("document", "branches", D(2010, 10, 31))
    # “查找院黨委、黨支部與“五個好”的差距……組織每個黨員查找與“五個模范”的差距,明確改進爭優的公開承諾內容”
    assert [(t[i].kind, t[i].audience) for i in ("branch-gap", "branch-pledge", "member-gap", "member-pledge")] == [
        ("self_assessment", "branches"), ("pledge", "branches"), ("self_assessment", "members"), ("pledge", "members")]
    assert t["final-poll"].kind == "poll" and t["final-poll"].due == D(2012, 11, 7)
    # “五比五帶頭”; 黨員領導干部要成為“勤政廉政典范”……學生黨員要成為“全面成才表率”
    assert c.standards["member"] == "五比五带头"
    five = c.standard_sets["五比五带头"]
    assert [item[:3] for item in five.items] == ["比党性", "比本领", "比业绩", "比品行", "比服务"]
    assert five.aims == {"领导干部": "勤政廉政典范", "教师党员": "教书育人楷模", "行政教辅": "优质服务标兵", "学生党员": "全面成才表率"}


# -- seed 004: xx学校“创五星、争红旗”晋位升级活动实施方案 --------------------------------------------
def test_seed004_five_stars_red_flag() -> None:
    c = load("seed004")
    # The plan leaves every year and month blank (××××年×月—×月); the file's dates are placeholders,
    # so check the three phases' names, order and shape, not their calendar.
    assert [p.name for p in c.phases] == ["查找问题", "公开承诺", "整改落实"]
    t = tasks(c)
    # “公开承诺工作要于×月中旬前完成”: a 中旬 deadline inside the 公开承诺 phase
    assert t["branch-pledge"].kind == "pledge" and phase_of(c, "branch-pledge") == "公开承诺"
    assert t["branch-pledge"].due.day == 20
    # “有职党员作出岗位承诺”
    assert (t["post-pledge"].kind, t["post-pledge"].audience) == ("pledge", "post_holders")
    assert t["star-rating"].kind == "rating" and t["star-rating"].audience == "committee"
    # 五项指标; “按照“五带头”标准”
    assert (c.standards["member"], c.standards["branch"], c.standards["stars"]) == ("五带头", "五个好", "五星")
    assert c.standard_sets["五星"].items == ["班子建设", "工作制度", "保障机制", "工作业绩", "作用发挥"]
    # 群众满意度在90%以上 / 党员参与率达90%以上 / 红旗: 满意度达到95%以上
    assert c.rules.star_satisfaction_min == pytest.approx(0.90)
    assert c.rules.star_participation_min == pytest.approx(0.90)
    assert c.rules.red_flag_min == pytest.approx(0.95)
