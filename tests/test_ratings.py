"""分类定级, 五星 and 红旗 on tables worked out by hand from the plans (seed 002: 党组织自评 + 党员群众评议
+ 上级党组织评定 into 强/较强/一般/薄弱; seed 004: 五星 indicators at 90 %, 红旗 at 95 %).

Defaults (written in seed002.yaml and seed004.yaml): weights 自评 0.3, 评议 0.4, 上级 0.3; lines
强 90, 较强 75, 一般 60; 自评 answers 好 100, 较好 85, 一般 70, 差 50; 评议 points = 满意率 × 100.
"""
from __future__ import annotations

import pytest

from bot.campaigns import Rules
from bot.rating_proposals import Evidence
from bot.ratings import Inputs, propose
from storage.models import Poll, SelfAssessment

RULES = Rules(star_satisfaction_min=0.90, star_participation_min=0.90, red_flag_min=0.95)  # seed004's lines
FIVE_GOOD = ["领导班子好", "党员队伍好", "工作机制好", "工作业绩好", "群众反映好"]
FIVE_STARS = ["班子建设", "工作制度", "保障机制", "工作业绩", "作用发挥"]


def branch(*answers: str) -> dict[str, str]:
    return dict(zip(FIVE_GOOD, answers, strict=False))


def inputs(answers=("较好",) * 5, satisfaction: float | None = 0.867, superior: float | None = 80, **more) -> Inputs:
    poll = more.pop("poll", "published" if satisfaction is not None else "none")
    return Inputs(branch_ratings=branch(*answers), poll=poll, satisfaction=satisfaction, superior=superior, **more)


LEVELS = [
    # 自评 answers, 满意率, 上级 → 自评 points, 评议 points, score, level; the arithmetic by hand:
    # 5 × 较好 = 85; 0.867 → 86.7; 85×0.3 + 86.7×0.4 + 80×0.3 = 25.5 + 34.68 + 24 = 84.18 → 较强
    (("较好",) * 5, 0.867, 80, 85, 86.7, 84.18, "较强"),
    # (100+85+85+100+70)/5 = 88; 88×0.3 + 86.7×0.4 + 80×0.3 = 26.4 + 34.68 + 24 = 85.08 → 较强
    (("好", "较好", "较好", "好", "一般"), 0.867, 80, 88, 86.7, 85.08, "较强"),
    # exactly on 强: 100×0.3 + 90×0.4 + 80×0.3 = 30 + 36 + 24 = 90 → 强
    (("好",) * 5, 0.90, 80, 100, 90, 90, "强"),
    # just under: 30 + 36 + 79.9×0.3 (23.97) = 89.97 → 较强
    (("好",) * 5, 0.90, 79.9, 100, 90, 89.97, "较强"),
    # exactly on 较强: 70×0.3 + 75×0.4 + 80×0.3 = 21 + 30 + 24 = 75 → 较强
    (("一般",) * 5, 0.75, 80, 70, 75, 75, "较强"),
    # just under: 21 + 30 + 79.97×0.3 (23.991) = 74.991 → 74.99 → 一般
    (("一般",) * 5, 0.75, 79.97, 70, 75, 74.99, "一般"),
    # exactly on 一般: 50×0.3 + 60×0.4 + 70×0.3 = 15 + 24 + 21 = 60 → 一般
    (("差",) * 5, 0.60, 70, 50, 60, 60, "一般"),
    # under: 15 + 55×0.4 (22) + 21 = 58 → 薄弱
    (("差",) * 5, 0.55, 70, 50, 55, 58, "薄弱"),
    # 13 of 15 satisfied: 0.8667 → 86.67 points; 25.5 + 34.668 + 24 = 84.168 → 84.17
    (("较好",) * 5, 13 / 15, 80, 85, 86.67, 84.17, "较强"),
]


@pytest.mark.parametrize("answers, satisfaction, superior, own, masses, score, level", LEVELS)
def test_levels_from_the_three_sources(answers, satisfaction, superior, own, masses, score, level):
    proposal = propose(inputs(answers, satisfaction, superior), RULES, [])
    assert proposal.points == {"self_assessment": own, "masses": masses, "superior": superior}
    assert (proposal.score, proposal.level, proposal.missing) == (score, level, [])


def test_what_would_change_the_level():
    # 84.18 is 较强: 强 needs 90 − 84.18 = 5.82 more. Alone, 自评 would need 5.82/0.3 = 19.4 (85 → 104.4) and
    # 满意率 5.82/0.4 = 14.55 points (86.7 → 101.25): both over 100, so not offered; 上级 5.82/0.3 = 19.4
    # (80 → 99.4) is. The score is 84.18 − 75 = 9.18 above 较强's line.
    proposal = propose(inputs(), RULES, [])
    assert (proposal.next_level, proposal.to_next, proposal.margin) == ("强", 5.82, 9.18)
    assert proposal.rises == {"superior": 19.4}
    # with 满意率 0.80 (80 points): 25.5 + 32 + 24 = 81.5; 强 needs 8.5: 满意率 8.5/0.4 = 21.25 (→ 101.25, no),
    # 上级 8.5/0.3 = 28.333… → 28.34 (→ 108.34, no), 自评 28.34 (→ 113.34, no): no single source reaches it
    assert propose(inputs(satisfaction=0.80), RULES, []).rises == {}
    # with 上级 60: 25.5 + 34.68 + 18 = 78.18; 强 needs 11.82: 上级 11.82/0.3 = 39.4 → 99.4
    assert propose(inputs(superior=60), RULES, []).rises == {"superior": 39.4}


def test_a_named_rise_is_always_enough():
    # 89.97 needs 0.03: 评议 0.03/0.4 = 0.075 → 0.08 (rounded up, not to 0.07 which falls short);
    # 上级 0.03/0.3 = 0.1; 自评 is already 100.
    proposal = propose(inputs(("好",) * 5, 0.90, 79.9), RULES, [])
    assert proposal.rises == {"masses": 0.08, "superior": 0.1}


def test_top_and_bottom_levels():
    top = propose(inputs(("好",) * 5, 1.0, 100), RULES, [])
    assert (top.level, top.next_level, top.margin) == ("强", None, 10)
    bottom = propose(inputs(("差",) * 5, 0.0, 0), RULES, [])  # 15 + 0 + 0 = 15
    # 一般 needs 45 more: 自评 45/0.3 = 150 and 上级 150 are impossible, 评议 45/0.4 = 112.5 too
    assert (bottom.score, bottom.level, bottom.next_level, bottom.to_next, bottom.rises, bottom.margin) == \
        (15, "薄弱", "一般", 45, {}, None)


@pytest.mark.parametrize("given, missing", [
    (dict(satisfaction=None), ["masses"]),
    (dict(satisfaction=None, poll="unpublished"), ["masses"]),
    (dict(satisfaction=0.99, poll="unpublished"), ["masses"]),  # a rate under the ballot threshold never counts
    (dict(superior=None), ["superior"]),
    (dict(answers=(), superior=None), ["self_assessment", "superior"]),
])
def test_missing_inputs_mean_no_score(given, missing):
    proposal = propose(inputs(**given), RULES, [])
    assert (proposal.score, proposal.level, proposal.missing, proposal.next_level) == (None, "", missing, None)


def test_a_source_weighted_zero_is_not_needed():
    rules = Rules(rating_weights={"self_assessment": 0.5, "masses": 0.5, "superior": 0})
    # 85×0.5 + 86.7×0.5 = 42.5 + 43.35 = 85.85 → 较强, with no 上级评定 at all
    proposal = propose(inputs(superior=None), rules, [])
    assert (proposal.score, proposal.level, proposal.missing) == (85.85, "较强", [])
    assert "superior" not in proposal.rises


def test_the_campaign_sets_the_lines_and_levels():
    rules = Rules(rating_levels=["好", "中", "差"], level_thresholds={"好": 85, "中": 70})
    assert propose(inputs(), rules, []).level == "中"  # 84.18 < 85
    with pytest.raises(ValueError):
        Rules(level_thresholds={"强": 75, "较强": 90, "一般": 60})
    with pytest.raises(ValueError):
        Rules(level_thresholds={"薄弱": 10})


def stars_claimed(answers: dict[str, str] | None = None, *, decided: dict[str, str] | None = None,
                  satisfaction: float | None = 0.96, participation: float | None = 0.95,
                  leadership: float | None = 0.95, **more) -> Inputs:
    """五星 claimed (all 好 unless `answers`), each with its evidence, and decided by the committee as
    `decided` says (all confirmed unless given); 党员参与率 as entered; the 领导班子 poll's rate."""
    answers = answers or dict.fromkeys(FIVE_STARS, "好")
    evidence = {name: f"{name}的记录" for name in answers}
    claims = Inputs(star_ratings=answers, star_evidence=evidence)
    decided = dict.fromkeys(FIVE_STARS, "confirmed") if decided is None else decided
    decisions = {name: {"decision": d, "comment": "", "by": "孙丽", "claim": claims.claim(name)}
                 for name, d in decided.items()}
    entry = {"attended": None, "total": None, "note": "", "name": "张伟", "on": "2012-12-20"}
    return inputs(star_ratings=answers, star_evidence=evidence, star_decisions=decisions, satisfaction=satisfaction,
                  participation=participation, participation_entry=entry if participation is not None else None,
                  **{"leadership_poll": "published" if leadership is not None else "none",
                     "leadership_satisfaction": leadership, **more})


STARS = [
    # 满意率 (the branch poll), 党员参与率 (entered), 领导班子's 满意率 → stars. Seed 004: 班子建设 needs the
    # 书记/班子's 满意度 ≥ 90 %, 作用发挥 needs 满意度 ≥ 90 % and 参与率 ≥ 90 %; the other three need only
    # the committee's confirmation of the claim.
    (0.90, 0.90, 0.90, FIVE_STARS),
    (0.3 * 3, 0.9, 0.3 * 3, FIVE_STARS),  # 0.8999999999999999 in binary: on the line all the same
    (0.8999, 0.95, 0.95, ["班子建设", "工作制度", "保障机制", "工作业绩"]),
    (0.95, 0.8999, 0.95, ["班子建设", "工作制度", "保障机制", "工作业绩"]),
    (0.95, 0.95, 0.8999, ["工作制度", "保障机制", "工作业绩", "作用发挥"]),
    (0.80, 1.0, 1.0, ["班子建设", "工作制度", "保障机制", "工作业绩"]),
    (0.96, None, 0.95, ["班子建设", "工作制度", "保障机制", "工作业绩"]),
]


@pytest.mark.parametrize("satisfaction, participation, leadership, stars", STARS)
def test_star_indicators(satisfaction, participation, leadership, stars):
    given = stars_claimed(satisfaction=satisfaction, participation=participation, leadership=leadership)
    assert propose(given, RULES, FIVE_STARS).stars == stars


def test_star_gaps_say_what_failed():
    given = stars_claimed({**dict.fromkeys(FIVE_STARS, "好"), "工作制度": "较好"}, satisfaction=0.85,
                          participation=0.80, leadership=None)
    gaps = propose(given, RULES, FIVE_STARS).star_gaps
    assert gaps == {"班子建设": ["leadership"], "工作制度": ["rating"], "保障机制": [], "工作业绩": [],
                    "作用发挥": ["satisfaction", "participation"]}
    # a poll under the ballot threshold: its 满意率 never counts; the entered 参与率 does, whatever the poll
    unpublished = propose(stars_claimed(satisfaction=0.99, participation=0.99, poll="unpublished"), RULES, FIVE_STARS)
    assert unpublished.star_gaps["作用发挥"] == ["satisfaction"]


def test_a_star_counts_only_once_the_committee_confirms_it():
    """Finding 8: a "好" in the 五星 self-assessment awarded the star. Now it is a claim, decided one by one."""
    undecided = propose(stars_claimed(decided={}), RULES, FIVE_STARS)
    assert undecided.stars == [] and undecided.undecided == FIVE_STARS
    assert set(map(tuple, undecided.star_gaps.values())) == {("undecided",)}
    some = propose(stars_claimed(decided={"工作制度": "confirmed", "保障机制": "refused"}), RULES, FIVE_STARS)
    assert some.stars == ["工作制度"] and some.star_gaps["保障机制"] == ["refused"]
    assert some.undecided == ["班子建设", "工作业绩", "作用发挥"]


def test_a_decision_holds_only_for_the_claim_it_was_made_on():
    confirmed = stars_claimed()
    changed = Inputs.from_json({**confirmed.to_json(), "star_evidence": {**confirmed.star_evidence,
                                                                         "工作业绩": "改写后的依据"}})
    proposal = propose(changed, RULES, FIVE_STARS)
    assert "工作业绩" not in proposal.stars and proposal.undecided == ["工作业绩"]


def test_participation_is_the_entered_rate_not_poll_turnout():
    """Finding 8: 党员参与率 was the poll's member turnout; now only what the secretary entered counts."""
    turnout_only = Inputs.from_json({**stars_claimed(participation=None).to_json(), "participation": 1.0})
    assert turnout_only.counted("participation") == 1.0  # a rating saved before entries: the poll's, as it was
    assert stars_claimed(participation=None).counted("participation") is None
    assert propose(stars_claimed(participation=None), RULES, FIVE_STARS).star_gaps["作用发挥"] == ["participation"]


def test_班子建设_reads_the_leadership_poll_never_the_branch_poll():
    """Finding 8: 班子建设's 90 % is 满意度 with the 书记/班子; without such a poll the star waits, whatever
    the branch poll says."""
    none = propose(stars_claimed(satisfaction=1.0, leadership=None), RULES, FIVE_STARS)
    assert none.star_gaps["班子建设"] == ["leadership"] and "班子建设" not in none.stars
    unpublished = stars_claimed(satisfaction=1.0, leadership=0.99, leadership_poll="unpublished")
    assert propose(unpublished, RULES, FIVE_STARS).star_gaps["班子建设"] == ["leadership"]


def test_which_conditions_and_answers_count_are_the_campaigns():
    rules = Rules(star_self_ratings=["好", "较好"], star_conditions={"工作业绩": ["participation"]})
    given = stars_claimed(dict.fromkeys(FIVE_STARS, "较好"), satisfaction=0.5, participation=0.5)
    assert propose(given, rules, FIVE_STARS).stars == ["班子建设", "工作制度", "保障机制", "作用发挥"]


RED_FLAG = [
    # 五个好 all 好, 县级以上表彰, 满意率 → 红旗 and what is missing (seed 004: 满意度 ≥ 95 %)
    (("好",) * 5, True, 0.95, []),
    (("好",) * 5, True, 19 / 20, []),
    (("好",) * 5, True, 0.9499, ["satisfaction"]),
    (("好",) * 5, True, 0.80, ["satisfaction"]),
    (("好",) * 4 + ("较好",), True, 0.99, ["five_good"]),
    (("好",) * 5, False, 0.99, ["honoured"]),
    (("好",) * 5, None, 0.99, ["honoured"]),  # not entered yet
    ((), True, 0.99, ["five_good"]),  # no 党组织自评 is not 五个好
]


@pytest.mark.parametrize("answers, honoured, satisfaction, gaps", RED_FLAG)
def test_red_flag(answers, honoured, satisfaction, gaps):
    proposal = propose(inputs(answers, satisfaction, honoured=honoured), RULES, FIVE_STARS)
    assert (proposal.red_flag, proposal.red_flag_gaps) == (not gaps, gaps)


MASSES_RULES = Rules(star_satisfaction_min=0.90, star_participation_min=0.90, red_flag_min=0.95,
                     red_flag_voters="masses")  # seed004: 群众对党组织满意度达到95%以上


@pytest.mark.parametrize("masses_poll, masses, gaps", [
    ("published", 0.95, []),
    ("published", 0.94, ["satisfaction"]),  # the whole poll at 99 % does not make up for 群众's 94 %
    ("unpublished", None, ["satisfaction"]),  # too few 群众 ballots: their rate is not known
    ("none", None, ["satisfaction"]),  # a poll that did not count 群众 apart
])
def test_red_flag_reads_the_masses_rate_only(masses_poll, masses, gaps):
    """Finding 8: 红旗's 95 % is 群众's satisfaction; members' ballots were mixed in."""
    given = inputs(("好",) * 5, 0.99, honoured=True, masses_poll=masses_poll, masses_satisfaction=masses)
    assert propose(given, MASSES_RULES, FIVE_STARS).red_flag_gaps == gaps


def test_no_stars_and_no_red_flag_where_the_campaign_has_no_star_indicators():
    proposal = propose(inputs(("好",) * 5, 1.0, honoured=True), RULES, [])
    assert (proposal.stars, proposal.red_flag, proposal.red_flag_gaps) == ([], False, [])


def test_inputs_from_stored_rows():
    items = [{"standard": "领导班子好", "rating": "好", "gap": "", "measure": ""},
             {"standard": "党性分析", "rating": "", "gap": "文字", "measure": ""}]
    result = {"published": True, "rate": 0.9, "member_turnout": 0.75, "formula": "满意率 =（满意 + 基本满意）/ 有效票"}
    evidence = Evidence(own={1: SelfAssessment(items=items)}, stars={}, closed={1, 2},
                        polls={1: Poll(subject="支部满意度", result=result)})
    made = evidence.inputs(1, previous={"superior": 88.0, "honoured": False, "stale": 1})
    assert made == Inputs(branch_ratings={"领导班子好": "好"}, poll="published", poll_subject="支部满意度",
                          satisfaction=0.9, formula=result["formula"], superior=88.0, honoured=False)
    assert made.participation is None  # the poll's member turnout is not 三会一课 participation
    assert Inputs.from_json({**made.to_json(), "satisfied": ["满意"]}) == made  # fields no longer kept are ignored
    under = evidence.inputs(2, previous={})
    assert (under.poll, under.satisfaction, under.superior) == ("unpublished", None, None)
    assert evidence.inputs(3, previous={}).poll == "none"
