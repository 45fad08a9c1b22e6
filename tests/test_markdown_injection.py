"""Members' words inside the bot's markdown group posts are shown as typed, never read as formatting
(issue 18, finding 6): a link, a font tag, an @all mention, a heading, a quote, bold and code typed into
a pledge or a vote comment reach the group as full-width look-alikes. On SQLite and PostgreSQL."""
from __future__ import annotations

import pytest

from bot.texts import markdown_plain
from tests.test_pledge_form import Phone, rows
from tests.test_polls import Town, end_poll, issued_poll, populate
from tests.test_scheduler import load

LINK = "[点我领奖](http://evil.example/x)"
FONT = '<font color="warning">结果作废</font>'
MENTION = "<@all>"
HEADING = "# 紧急通知"
QUOTE = "> 党委决定"
BOLD = "**加分**"
CODE = "`代码`"
PAYLOADS = (LINK, FONT, MENTION, HEADING, QUOTE, BOLD, CODE)
# What a payload must never leave in a markdown message: the marks WeChat Work reads as formatting.
RAW = ("](http", "<font color=\"warning\">结果作废", "<@all>", "# 紧急通知", "> 党委决定", "**加分**", "`代码`")


def assert_shown_not_formatted(text: str, shown: tuple[str, ...]) -> None:
    """No payload's marks are left; each payload this message carries is there in its shown form."""
    for raw in RAW:
        assert raw not in text, raw
    for payload in shown:
        assert markdown_plain(payload) in text, payload


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_filter_leaves_no_markdown_mark(payload):
    shown = markdown_plain(payload)
    assert not set(shown) & set("#*[]`<>@") and len(shown) == len(payload)


def test_a_pledge_with_markdown_in_it_is_published_as_typed(engine, rostered):
    load(engine)
    li = Phone(engine, "li")
    li.say_all(("/承诺", f"{LINK} {MENTION} {HEADING}", f"{FONT} {QUOTE}", "6月15日", f"{BOLD} {CODE}备课",
                "每两周一次", "月底"))
    assert "已提交" in li.say("1")[0]
    text = rows(engine, "pledge:")[0].payload["markdown"]["content"]
    assert_shown_not_formatted(text, (LINK, MENTION, HEADING, FONT, QUOTE, BOLD, CODE))
    assert "＜＠all＞" in text and "＃ 紧急通知" in text and "＊＊加分＊＊" in text


def test_vote_comments_with_markdown_are_published_as_typed(engine, tmp_path):
    populate(engine, tmp_path)
    town = Town(engine)
    poll = issued_poll(town)
    for voter, payload in zip(["m1", "m2", "m3", "m4", "m5"], [LINK, FONT, MENTION, f"{HEADING}\n{QUOTE}", BOLD]):
        assert "已收到" in town.say(voter, f"{poll.id}-1 {payload}")[0]
    end_poll(town)
    text = town.rows(f"poll:{poll.id}:result")[0].payload["markdown"]["content"]
    assert_shown_not_formatted(text, (LINK, FONT, MENTION, HEADING, QUOTE, BOLD))
    assert "＜font color=\"warning\"＞结果作废＜/font＞" in text and "＜＠all＞" in text
