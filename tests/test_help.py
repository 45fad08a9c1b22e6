"""/帮助 closes with someone the reader can ask (issue 19, finding 8): a member or 群众 asks the branch
secretary; the secretary asks the bureau's committee; the committee, at the top, is told who to ask
about the bot itself. On SQLite and PostgreSQL."""
from __future__ import annotations

import pytest

from bot.dispatch import Dispatcher
from bot.handlers import ROUTERS
from tests.test_dispatch import feed, replies

ASK = {"secretary": "问支部书记", "committee": "问局党委", "admin": "管理员"}


@pytest.mark.parametrize("userid,asks", [("li", "secretary"), ("wang", "secretary"), ("zhang", "committee"),
                                         ("sun", "admin")])
def test_help_closes_with_who_this_reader_can_ask(engine, rostered, userid, asks):
    feed(Dispatcher(engine, ROUTERS), userid, "帮助")
    [reply] = replies(engine, userid)
    closing = reply.strip().splitlines()[-1]
    assert ASK[asks] in closing
    assert not [other for key, other in ASK.items() if key != asks and other in closing]


def test_the_committees_help_points_at_what_shows_the_bots_state(engine, rostered):
    feed(Dispatcher(engine, ROUTERS), "sun", "帮助")
    assert "xianfeng status" in replies(engine, "sun")[0]


@pytest.mark.parametrize("userid,issues", [("li", False), ("wang", False), ("zhang", True), ("sun", True)])
def test_help_says_what_评议_does_for_this_reader(engine, rostered, userid, issues):
    """A member or 群众 cannot issue a poll: their /评议 lists the polls waiting for their vote, and
    their help says that, not "发起匿名评议（书记）"."""
    feed(Dispatcher(engine, ROUTERS), userid, "帮助")
    line = next(line for line in replies(engine, userid)[0].splitlines() if line.startswith("/评议"))
    assert ("发起匿名评议" in line) is issues and ("等你投票" in line) is not issues
