"""Polls as a secretary meets them on a phone (issue 19, findings 4 to 6), through feed_update on SQLite
and PostgreSQL: the defaults the guided /评议 offers (a deadline near today, with its year when it is
another; a description that fits what is rated), the description on the card, readable option sets,
the one-line /评议 with its words in any order, /评议 结束 asked before it ends anything, no markdown
marks in plain text, and the cards of those who did not vote closed at the end (or a kind answer to a
tap that comes too late)."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update

from bot.scheduler.jobs import run_job
from storage.db import transaction
from storage.models import Outbox, OutboxStatus
from tests.conftest import make_settings
from tests.test_polls import POLL_CAMPAIGN, TZ, Town, end_poll, issued_poll, polls, populate, status

# The poll task's window holds 11 May 2026 (Town's first day), but it is due at the end of the year.
DUE_IN_DECEMBER = POLL_CAMPAIGN.replace("end: 2026-06-30", "end: 2026-12-31").replace("due: 2026-05-20", "due: 2026-12-31")
# seed000's December: the only poll task open rates members (民主评议党员), on 好/较好/一般/差.
PIONEER = POLL_CAMPAIGN.replace("end: 2026-06-30", "end: 2026-12-31").replace(
    "- {id: branch-poll, title: 党员群众评议本支部, kind: poll, audience: branches, voters: both, due: 2026-05-20}",
    "- {id: pioneer-poll, title: 年底民主评议党员（“先锋”评比）, kind: poll, audience: branches, voters: both, "
    "rates: members, scale: 好较好一般差, due: 2026-12-31}")


def at(town: Town, when: datetime) -> Town:
    town.clock = int(when.timestamp())
    return town


def form_up_to_deadline(town: Town, rates: str = "1", *extra: str) -> str:
    """The secretary starts the guided /评议 and answers up to the deadline question; that question."""
    replies = [town.say("sec", answer)[0] for answer in ("/评议", rates, *extra, "满意度", "党员和群众")]
    return replies[-1]


# -- finding 4: what issuing a poll offers --------------------------------------------------------------------------------
def test_the_default_deadline_is_a_week_away_not_the_task_due_months_later(engine, tmp_path):
    populate(engine, tmp_path, campaign=DUE_IN_DECEMBER)
    question = form_up_to_deadline(Town(engine))  # Monday 11 May 2026
    assert "默认的 5月18日 18:00" in question and "12月31日" not in question


def test_the_default_deadline_is_the_task_due_when_that_comes_sooner(engine, tmp_path):
    populate(engine, tmp_path, campaign=POLL_CAMPAIGN.replace("due: 2026-05-20", "due: 2026-05-14"))
    assert "默认的 5月14日 18:00" in form_up_to_deadline(Town(engine))


def test_a_default_deadline_in_the_next_year_names_its_year(engine, tmp_path):
    populate(engine, tmp_path)  # the campaign ended in June: an ad-hoc poll, a week from today
    town = at(Town(engine), datetime(2026, 12, 28, 10, 0, tzinfo=TZ))
    assert "默认的 2027年1月4日 18:00" in form_up_to_deadline(town)
    town.say("sec", "跳过")
    town.say("sec", "跳过")
    assert "已发出" in town.say("sec", "1")[0]
    assert datetime.fromtimestamp(polls(engine)[0].deadline, TZ) == datetime(2027, 1, 4, 18, 0, tzinfo=TZ)


def test_a_branch_poll_is_not_described_as_the_open_task_that_rates_members(engine, tmp_path):
    populate(engine, tmp_path, campaign=PIONEER)
    town = at(Town(engine), datetime(2026, 12, 7, 10, 0, tzinfo=TZ))
    form_up_to_deadline(town)  # 支部, 满意度, 党员和群众
    question = town.say("sec", "跳过")[0]
    assert "民主评议党员" not in question and "先锋" not in question
    assert "“第一党支部满意度测评”" in question
    preview = town.say("sec", "跳过")[0]
    assert "说明：第一党支部满意度测评" in preview and "先锋" not in preview


def test_a_poll_of_members_is_described_as_the_task_that_rates_members(engine, tmp_path):
    populate(engine, tmp_path, campaign=PIONEER)
    town = at(Town(engine), datetime(2026, 12, 7, 10, 0, tzinfo=TZ))
    for answer in ("/评议", "3", "党员1", "好", "党员和群众", "跳过"):
        question = town.say("sec", answer)[0]
    assert "“年底民主评议党员（“先锋”评比）”" in question


def test_the_description_is_on_the_card_within_its_documented_length(engine, tmp_path):
    populate(engine, tmp_path)
    town = Town(engine)
    form_up_to_deadline(town)
    town.say("sec", "5月15日")
    too_long = "本学期支部在师德师风建设和服务群众方面的工作情况怎么样请大家评一评"
    refused = town.say("sec", too_long)[0]
    assert "卡片上最多写 20 个字" in refused and "【发起评议" in refused  # asked again, nothing lost
    town.say("sec", "师德师风和服务群众")
    assert "已发出" in town.say("sec", "1")[0]
    [card] = [r.payload["template_card"] for r in town.rows("poll:") if r.payload.get("msgtype") == "template_card"]
    desc = card["main_title"]["desc"]
    assert "师德师风和服务群众" in desc and "5月15日 18:00" in desc and len(desc) <= 44  # 90236: 建议不超过44个字


def test_a_long_one_line_description_is_shortened_on_the_card_not_cut_at_random(engine, tmp_path):
    populate(engine, tmp_path)
    town = Town(engine)
    poll = issued_poll(town, "/评议 支部满意度关于师德师风建设和服务群众工作情况的年度测评 截止 5月15日 18:00")
    [card] = [r.payload["template_card"] for r in town.rows("poll:") if r.payload.get("msgtype") == "template_card"]
    desc = card["main_title"]["desc"]
    assert len(desc) <= 44 and "…" in desc and "5月15日 18:00截止" in desc
    assert poll.description.startswith("支部满意度关于师德师风")  # kept whole for the group


def test_option_sets_are_labelled_readably(engine, tmp_path):
    populate(engine, tmp_path)
    town = Town(engine)
    town.say("sec", "/评议")
    question = town.say("sec", "1")[0]
    assert "好 / 较好 / 一般 / 差" in question and "满意 / 基本满意 / 不满意" in question
    assert "好较好一般差" not in question


def test_the_one_line_form_takes_the_voters_word_after_the_date(engine, tmp_path):
    populate(engine, tmp_path)
    town = Town(engine)
    poll = issued_poll(town, "/评议 支部满意度 截止 5月15日 党员和群众")
    assert poll.voters == "both" and poll.description == "支部满意度"
    assert datetime.fromtimestamp(poll.deadline, TZ) == datetime(2026, 5, 15, 18, 0, tzinfo=TZ)
    poll = issued_poll(town, "/评议 支部满意度 截止 5月16日 17:00 党员")
    assert poll.voters == "members"
    assert datetime.fromtimestamp(poll.deadline, TZ) == datetime(2026, 5, 16, 17, 0, tzinfo=TZ)


def test_the_one_line_form_takes_the_branch_anywhere(engine, tmp_path):
    populate(engine, tmp_path)
    town = Town(engine)
    assert "已发出" in town.say("boss", "/评议 支部满意度 截止 5月15日 第一党支部 党员和群众")[0]
    assert "已发出" in town.say("boss", "/评议 班子满意度 截止 5月16日第一党支部")[0]
    first, second = polls(engine)
    assert (first.subject, first.voters, second.subject) == ("第一党支部", "both", "第一党支部领导班子")


def test_ending_a_poll_is_asked_first_and_shows_what_it_means(engine, tmp_path):
    populate(engine, tmp_path)
    town = Town(engine)
    poll = issued_poll(town)
    town.tap("m1", poll.id, "1")
    asked = town.say("sec", "/评议 结束")[0]
    assert "第一党支部评议" in asked and f"编号 {poll.id}" in asked and "已投 1/10" in asked
    assert "9 人" in asked and "不能再投" in asked and "5 张" in asked  # who loses their vote; the threshold
    assert status(engine, poll.id) == "open"
    assert "取消" in town.say("sec", "取消")[0]
    assert status(engine, poll.id) == "open"
    town.say("sec", "/评议 结束")
    assert "还没有提交" in town.say("sec", "等等")[0]  # not a yes: asked again, nothing ended
    assert status(engine, poll.id) == "open"
    town.say("sec", "好的")  # a plain yes, as at every preview (bot.answers: [forms] yes)
    assert status(engine, poll.id) == "closed"


def test_ending_by_number_is_asked_once_too(engine, tmp_path):
    populate(engine, tmp_path)
    town = Town(engine)
    first = issued_poll(town)
    second = issued_poll(town, "/评议 班子满意度 截止 5月16日 18:00")
    asked = town.say("sec", f"/评议 结束 {second.id}")[0]
    assert "第一党支部领导班子评议" in asked and "已投 0/10" in asked
    assert status(engine, second.id) == "open"
    town.say("sec", "1")
    assert (status(engine, first.id), status(engine, second.id)) == ("open", "closed")


def test_ending_with_several_open_asks_which_then_confirms(engine, tmp_path):
    populate(engine, tmp_path)
    town = Town(engine)
    first = issued_poll(town)
    second = issued_poll(town, "/评议 班子满意度 截止 5月16日 18:00")
    which = town.say("sec", "/评议 结束")[0]
    assert f"编号 {first.id}" in which and f"编号 {second.id}" in which
    asked = town.say("sec", "2")[0]
    assert "第一党支部领导班子评议" in asked and "已投 0/10" in asked
    town.say("sec", "1")
    assert (status(engine, first.id), status(engine, second.id)) == ("open", "closed")


def test_end_poll_helper_ends_at_once(engine, tmp_path):
    populate(engine, tmp_path)
    town = Town(engine)
    poll = issued_poll(town)
    assert "已结束" in end_poll(town)[0]
    assert status(engine, poll.id) == "closed"


# -- finding 5: no markdown marks in a plain text message ---------------------------------------------------------------
MARKS = ("**", "<font", "\n> ", "\n# ", "](")


def test_the_announcement_and_the_status_show_no_markdown_marks(engine, tmp_path):
    populate(engine, tmp_path)
    town = Town(engine)
    poll = issued_poll(town)
    [announce] = [r for r in town.rows("poll:") if r.endpoint == "appchat/send"]
    body = announce.payload.get("text", {}).get("content")
    assert body is None or not any(mark in "\n" + body for mark in MARKS)  # text: no marks; or a markdown post
    shown = announce.payload.get("markdown", announce.payload.get("text"))["content"]
    assert "第一党支部评议已发起" in shown
    status_reply = town.say("sec", "/评议 情况")[0]
    assert "第一党支部评议" in status_reply and not any(mark in "\n" + status_reply for mark in MARKS)
    assert f"编号 {poll.id}" in status_reply


# -- finding 6: the cards of those who did not vote, after the close --------------------------------------------------
CLOSE = datetime(2026, 5, 15, 18, 1, tzinfo=TZ)


def cards_sent(engine, *, hours_before_close: float, code: str = "send-code") -> None:
    """What the sender writes when the cards leave: sent, and the platform's response_code."""
    sent_at = CLOSE.timestamp() - hours_before_close * 3600
    with transaction(engine) as session:
        session.execute(update(Outbox).where(Outbox.idem_key.like("poll:%:card:%"))
                        .values(status=OutboxStatus.sent, sent_at=sent_at, result={"response_code": code}))


def card_updates(town: Town) -> list[dict]:
    """The card updates queued in the open (a vote's own "已提交" row is sealed: tests/test_polls.py)."""
    return [r.payload for r in town.rows() if r.endpoint == "message/update_template_card" and "sealed" not in r.payload]


def test_the_cards_of_those_who_did_not_vote_show_the_end(engine, tmp_path):
    populate(engine, tmp_path)
    town = at(Town(engine), CLOSE - timedelta(hours=48))  # a two-day poll: its cards' code still works at the end
    poll = issued_poll(town)
    cards_sent(engine, hours_before_close=48)
    town.tap("m1", poll.id, "1", code="tap-code")
    town.say("m2", "1")  # typed: voted all the same
    run_job("polls", engine, make_settings("sqlite://", "http://127.0.0.1:9"), CLOSE)
    ended = [u for u in card_updates(town) if u["response_code"] == "send-code"]
    assert len(ended) == 1 and ended[0]["button"]["replace_name"] == "评议已结束"
    assert sorted(ended[0]["userids"]) == sorted({"sec", "m3", "m4", "m5", "q1", "q2", "q3", "q4"})


def test_after_72_hours_a_late_tap_is_answered_kindly_and_its_card_closed(engine, tmp_path):
    populate(engine, tmp_path)
    town = Town(engine)
    poll = issued_poll(town)
    cards_sent(engine, hours_before_close=73)  # the send's response_code has expired (94888: 72小时)
    for voter in ("m1", "m2", "m4", "q1", "q2"):
        town.tap(voter, poll.id, "1")
    run_job("polls", engine, make_settings("sqlite://", "http://127.0.0.1:9"), CLOSE)
    assert not [u for u in card_updates(town) if u["response_code"] == "send-code"]
    at(town, CLOSE + timedelta(hours=1))
    reply = town.tap("m3", poll.id, "1", code="late-tap")[0]
    assert "已经结束" in reply and "第一党支部·创先争优" in reply and "不能再投票" in reply
    [closed] = [u for u in card_updates(town) if u["response_code"] == "late-tap"]
    assert closed["userids"] == ["m3"] and closed["button"]["replace_name"] == "评议已结束"


def test_a_late_tap_on_a_result_not_published_says_so(engine, tmp_path):
    populate(engine, tmp_path)
    town = Town(engine)
    poll = issued_poll(town)
    run_job("polls", engine, make_settings("sqlite://", "http://127.0.0.1:9"), CLOSE)  # nobody voted
    at(town, CLOSE + timedelta(hours=1))
    reply = town.tap("m3", poll.id, "1", code="late-tap")[0]
    assert "已经结束" in reply and "有效票不足" in reply


def test_a_tap_after_the_deadline_before_the_count_is_told_the_result_follows(engine, tmp_path):
    populate(engine, tmp_path)
    town = Town(engine)
    poll = issued_poll(town)
    at(town, CLOSE)  # past 18:00, the minute's job not yet run
    reply = town.tap("m3", poll.id, "1")[0]
    assert "已经截止" in reply and "结果" in reply


def test_no_update_is_queued_for_cards_that_never_left(engine, tmp_path):
    populate(engine, tmp_path)
    town = Town(engine)
    issued_poll(town)  # cards still queued: no response_code yet
    run_job("polls", engine, make_settings("sqlite://", "http://127.0.0.1:9"), CLOSE)
    assert card_updates(town) == []


def test_a_card_submitted_with_nothing_chosen(engine, tmp_path):
    """While the poll is open: choose one first; once it has ended, the end is what is said."""
    import re

    from bot.wecom.emulator.callbacks import card_event
    from bot.wecom.updates import parse_update
    from tests.conftest import AGENT_ID, CORP_ID

    populate(engine, tmp_path)
    town = Town(engine)
    poll = issued_poll(town)

    def tap_nothing(userid: str) -> list[str]:
        before = len(town.texts(userid))
        town.clock += 1
        xml = card_event(CORP_ID, AGENT_ID, userid, key=f"vote-{poll.id}", task_id=f"poll-{poll.id}-0",
                         card_type="vote_interaction", selected={"choice": []}, response_code="code")
        town.dispatcher.feed_update(parse_update(re.sub(r"<CreateTime>\d+</CreateTime>",
                                                        f"<CreateTime>{town.clock}</CreateTime>", xml)))
        return town.texts(userid)[before:]

    assert "请选一个选项" in tap_nothing("m1")[0]
    run_job("polls", engine, make_settings("sqlite://", "http://127.0.0.1:9"), CLOSE)
    town.clock = int(CLOSE.timestamp()) + 60
    reply = tap_nothing("m2")[0]
    assert "已经结束" in reply and "请选" not in reply
