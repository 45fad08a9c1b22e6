"""红旗's 95 % is 群众's satisfaction (issue 17, finding 8): where a campaign rule reads 群众's own rate
(seed004's red_flag_voters: masses), a branch poll counts members' and 群众's ballots apart. The ballot
keeps its voter group (member or masses, never who) only while the poll is open; a group under the
poll's min_ballots is not published apart. Through the bot, on SQLite and PostgreSQL."""
from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from storage.models import Ballot, Poll
from tests.test_campaign_rules import campaign_with_rules_of
from tests.test_polls import Town, end_poll, issued_poll, populate

# seed004's rules, with 3 ballots enough to publish (the test branch has four 群众)
SEED004_MIN3 = campaign_with_rules_of("seed004", **{"min_ballots: {value: 5, default: true}":
                                                    "min_ballots: {value: 3, default: true}"})


def vote(engine, tmp_path, campaign: str, choices: dict[str, str]) -> tuple[Town, Poll]:
    populate(engine, tmp_path, campaign=campaign)
    town = Town(engine)
    poll = issued_poll(town)
    for voter, option in choices.items():
        town.tap(voter, poll.id, option)
    return town, poll


def groups(engine, poll: Poll) -> list[str | None]:
    """The voter groups of the poll's ballots, unsealed (what the close reads)."""
    from storage import polls as store

    with Session(engine) as session:
        tally = store.open_ballots(session, poll=session.get(Poll, poll.id)).tally
        return sorted((g for (_, g), n in tally.items() for _ in range(n)), key=str)


def ballots(engine) -> list[Ballot]:
    with Session(engine) as session:
        return list(session.scalars(select(Ballot)))


def close(town: Town, poll: Poll) -> tuple[str, dict]:
    end_poll(town)
    with Session(town.engine) as session:
        result = session.get(Poll, poll.id).result
    return town.rows(f"poll:{poll.id}:result")[0].payload["markdown"]["content"], result


# members: two of five 不满意; 群众: all four 满意 → the whole poll 7/9 (77.8 %), 群众 alone 4/4 (100 %)
MIXED = {"m1": "1", "m2": "1", "m3": "1", "m4": "3", "m5": "3", "q1": "1", "q2": "1", "q3": "2", "q4": "1"}


def test_the_red_flag_reads_the_masses_ballots_apart(engine, tmp_path):
    town, poll = vote(engine, tmp_path, SEED004_MIN3, MIXED)
    assert groups(engine, poll) == ["masses"] * 4 + ["member"] * 5  # while open: the group, and nothing of who
    assert not any("mass" in b.sealed or "member" in b.sealed for b in ballots(engine))  # sealed
    text, result = close(town, poll)
    assert result["rate"] == 7 / 9 and result["groups"]["masses"]["rate"] == 1.0
    assert result["groups"]["member"]["rate"] == 3 / 5 and result["groups"]["masses"]["counts"] == \
        {"满意": 3, "基本满意": 1, "不满意": 0}
    assert result["consequences"] == ["red_flag"]  # 群众 at 100 % meet 95 %; the whole poll meets no line
    assert "群众：满意率 4 ÷ 4 = 100%" in text and "党员：满意率 3 ÷ 5 = 60%" in text
    assert "群众满意率达到 95%：符合红旗党组织“群众对党组织满意度”的要求" in text
    assert ballots(engine) == []  # counted: the ballots are gone, the result holds what is published


def test_a_group_under_the_ballot_threshold_is_not_published_apart(engine, tmp_path):
    """Nor is the other group: the whole poll's counts minus the members' would be 群众's."""
    few_masses = {"m1": "1", "m2": "1", "m3": "1", "m4": "1", "q1": "3", "q2": "1"}
    town, poll = vote(engine, tmp_path, SEED004_MIN3, few_masses)
    text, result = close(town, poll)
    unpublished = {"published": False, "valid": None, "counts": {}, "rate": None, "satisfied_votes": None}
    assert result["published"] and result["groups"] == {"masses": unpublished, "member": unpublished}
    assert "red_flag" not in result["consequences"]
    assert "群众：为保护匿名不单独公布" in text and "党员：为保护匿名不单独公布" in text
    assert "这次群众票数不足，不能据此判定" in text and "4 ÷ 4" not in text and "50" not in text


def test_groups_only_one_of_which_voted_publish_it():
    """A group without ballots hides nothing: the other group's counts are the whole poll's."""
    from bot.polls.rules import group_results

    found = group_results({"member": {"满意": 5}}, ["满意", "不满意"], ["满意"], 5)
    assert found["member"]["rate"] == 1.0 and found["masses"]["published"] is False
    found = group_results({"member": {"满意": 5}, "masses": {"不满意": 1}}, ["满意", "不满意"], ["满意"], 5)
    assert not found["member"]["published"] and not found["masses"]["published"]


def test_a_campaign_without_such_a_rule_keeps_no_group(engine, tmp_path):
    """seed002 has no 红旗: its ballots never carry a group and its result counts them together."""
    town, poll = vote(engine, tmp_path, campaign_with_rules_of("seed002"), MIXED)
    assert groups(engine, poll) == [None] * 9
    text, result = close(town, poll)
    assert "groups" not in result and "群众：" not in text


def test_a_poll_only_群众_vote_in_is_their_rate(engine, tmp_path):
    """No groups to count apart: the whole poll is 群众's, and its result says so for the 红旗."""
    from bot.polls.close import close_poll
    from storage import polls as store
    from storage.db import transaction
    from storage.models import Branch, CampaignRecord

    populate(engine, tmp_path, campaign=SEED004_MIN3)
    with transaction(engine) as session:
        branch = session.scalars(select(Branch).where(Branch.name == "第一党支部")).one()
        record_id = session.scalars(select(CampaignRecord.id)).one()
        voters = store.eligible(session, branch_id=branch.id, voters="masses")
        made = store.create(session, voters=voters, poll=Poll(
            campaign_id=record_id, branch_id=branch.id, issuer="sec", rates="branch", subject="群众满意度",
            scale="满意度", options=["满意", "基本满意", "不满意"], satisfied=["满意", "基本满意"], voters="masses",
            deadline=1.7e9, min_ballots=3))
        for userid in voters:
            store.claim_vote(session, poll_id=made.id, userid=userid)
            store.add_ballot(session, poll=made, choice="满意")
    with transaction(engine) as session:
        closed = close_poll(session, poll_id=made.id, tz="Asia/Shanghai")
        assert "groups" not in closed.result and closed.result["consequences"] == ["star", "red_flag"]
    town = Town(engine)
    text = town.rows(f"poll:{made.id}:result")[0].payload["markdown"]["content"]
    assert "群众满意率达到 95%：符合红旗党组织“群众对党组织满意度”的要求" in text
