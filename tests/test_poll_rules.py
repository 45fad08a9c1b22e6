"""The poll rules on tables worked out by hand from the plans: 满意率 = (满意 + 基本满意) / 有效票;
below 80 % (seed 000) 评先评优资格 is lost and a 整改方案 is due; 90 % counts for a star and 95 %
for the red flag (seed 004); fewer than k ballots publish nothing."""
from __future__ import annotations

from datetime import date, datetime

import pytest

from bot.answers import Invalid
from bot.campaigns import CampaignFileError, Rules, load_campaign_text
from bot.polls.rules import consequences, parse_deadline, result, tally
from tests.test_polls import POLL_CAMPAIGN

SATISFIED = ["满意", "基本满意"]
OPTIONS = ["满意", "基本满意", "不满意"]
# Every line on one table: seed 000's eligibility line (with a 整改方案), seed 004's star and red-flag
# lines. A campaign has only the lines its file sets (tests/test_campaign_rules.py).
PLAN_LINES = Rules(lose_eligibility_below=0.80, rectify_days=15, star_satisfaction_min=0.90, red_flag_min=0.95)


@pytest.mark.parametrize("counts,rate,outcome", [
    # 满意 基本满意 不满意 → (满意+基本满意)/有效票
    ((10, 2, 3), "12/15 = 80.0 %", ["keep"]),                       # exactly 80 %: eligibility kept
    ((9, 2, 4), "11/15 = 73.3 %", ["lose", "rectify"]),             # below 80 %
    ((39, 0, 11), "39/50 = 78.0 %", ["lose", "rectify"]),
    ((16, 2, 2), "18/20 = 90.0 %", ["keep", "star"]),               # exactly 90 %: a star's satisfaction
    ((30, 7, 3), "37/40 = 92.5 %", ["keep", "star"]),               # a star, not the red flag
    ((17, 2, 1), "19/20 = 95.0 %", ["keep", "star", "red_flag"]),   # exactly 95 %: the red flag's satisfaction
    ((20, 0, 0), "20/20 = 100 %", ["keep", "star", "red_flag"]),
    ((5, 12, 3), "17/20 = 85.0 %", ["keep"]),                       # 基本满意 counts as satisfied by default
])
def test_satisfaction_lines(counts, rate, outcome):
    table = dict(zip(OPTIONS, counts))
    r = result(counts=table, satisfied=SATISFIED, min_ballots=5, eligible=60, voted=sum(counts),
               member_eligible=20, member_voted=18)
    numerator, valid = (int(x) for x in rate.split(" = ")[0].split("/"))
    assert r["rate"] == pytest.approx(numerator / valid) and r["valid"] == valid
    assert consequences(r["rate"], PLAN_LINES) == outcome


def test_a_campaign_may_count_only_man_yi_as_satisfied():
    rules = Rules(satisfied_options=["满意"], lose_eligibility_below=0.80)
    assert rules.scales["满意度"].satisfied == ["满意"]
    r = result(counts={"满意": 5, "基本满意": 12, "不满意": 3}, satisfied=rules.scales["满意度"].satisfied,
               min_ballots=5, eligible=20, voted=20, member_eligible=0, member_voted=0)
    assert r["rate"] == pytest.approx(5 / 20) and consequences(r["rate"], rules) == ["lose"]


def test_good_scale_of_democratic_review():
    # 好 6, 较好 2, 一般 1, 差 1 → (好+较好)/10 = 80 %
    scale = Rules().scales["好较好一般差"]
    r = result(counts=tally(scale.options, ["好"] * 6 + ["较好"] * 2 + ["一般", "差"]), satisfied=scale.satisfied,
               min_ballots=5, eligible=12, voted=10, member_eligible=12, member_voted=10)
    assert r["rate"] == pytest.approx(0.8) and r["member_turnout"] == pytest.approx(10 / 12)


@pytest.mark.parametrize("valid,published", [(4, False), (5, True)])
def test_threshold_k(valid, published):
    r = result(counts={"满意": valid, "基本满意": 0, "不满意": 0}, satisfied=SATISFIED, min_ballots=5,
               eligible=10, voted=valid, member_eligible=10, member_voted=valid, comments=["很好"])
    assert r["published"] is published
    if not published:
        assert r["counts"] == {} and r["rate"] is None and r["comments"] == [] and r["valid"] is None


def test_k_is_never_below_three():
    with pytest.raises(CampaignFileError, match="min_ballots"):
        load_campaign_text(POLL_CAMPAIGN.replace("MIN", "2"))


def test_comments_are_a_set_in_no_order_of_arrival():
    r = result(counts={"满意": 5}, satisfied=["满意"], min_ballots=5, eligible=5, voted=5, member_eligible=5,
               member_voted=5, comments=["乙", "甲", "乙"])
    assert r["comments"] == sorted({"甲", "乙"})


@pytest.mark.parametrize("typed,expected", [
    ("12月5日 18:00", datetime(2026, 12, 5, 18, 0)), ("12.5 下午6点", datetime(2026, 12, 5, 18, 0)),
    ("12月5日", datetime(2026, 12, 5, 18, 0)), ("下周五 9:30", datetime(2026, 11, 27, 9, 30)),
    ("17:00", datetime(2026, 11, 22, 17, 0)), ("明天 晚上8点", datetime(2026, 11, 23, 20, 0)),
])
def test_deadlines_typed_on_a_phone(typed, expected):
    assert parse_deadline(typed, date(2026, 11, 22)) == expected


@pytest.mark.parametrize("typed", ["25:00", "12月5日 9:75", "某天"])
def test_bad_deadlines(typed):
    with pytest.raises(Invalid):
        parse_deadline(typed, date(2026, 11, 22))
