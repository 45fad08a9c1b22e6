"""Routing without HTTP: aliases, full-width input, role checks, and jieba's guess for free text."""
from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import Session

from bot.dispatch import Dispatcher, normalise
from bot.handlers import ROUTERS
from bot.routing import Router
from bot.wecom.updates import parse_update
from storage.models import Outbox, Role
from tests.conftest import text_xml


def replies(engine, userid: str) -> list[str]:
    with Session(engine) as session:
        rows = session.scalars(select(Outbox).where(Outbox.endpoint == "message/send").order_by(Outbox.id))
        return [r.payload["text"]["content"] for r in rows if r.payload["touser"] == userid]


def feed(dispatcher: Dispatcher, userid: str, content: str) -> None:
    dispatcher.feed_update(parse_update(text_xml(userid, content)))


@pytest.fixture
def pledge_router() -> Router:
    """Stands in for the pledge capability (a later issue) to show hints reach any registered command."""
    router = Router()

    @router.command("/承诺", roles=[Role.member, Role.secretary])
    def pledge(ctx):
        ctx.reply("unknown")

    return router


def test_normalise_full_width_input():
    assert normalise("　／帮助　 ") == "/帮助"


@pytest.mark.parametrize("content", ["/帮助", "帮助", "help", "HELP", "?", "？", "／帮助", " 帮助 ", "菜单"])
def test_help_aliases(engine, rostered, content):
    feed(Dispatcher(engine, ROUTERS), "li", content)
    assert "你可以发送这些命令" in replies(engine, "li")[0]


def test_free_text_hint_uses_jieba_for_a_registered_command(engine, rostered, pledge_router):
    feed(Dispatcher(engine, [*ROUTERS, pledge_router]), "li", "我想写承诺")
    [reply] = replies(engine, "li")
    assert "/承诺" in reply


def test_hint_never_offers_a_command_that_does_not_exist(engine, rostered):
    from bot.handlers import poll

    without_polls = [r for r in ROUTERS if r is not poll.router]
    feed(Dispatcher(engine, without_polls), "zhang", "我想发起满意度评议")  # keywords in vocabulary, no router
    feed(Dispatcher(engine, ROUTERS), "zhang", "我想发起满意度评议")
    absent, present = replies(engine, "zhang")
    assert "/评议" not in absent and "帮助" in absent and "/评议" in present


def test_hint_respects_role(engine, rostered):
    feed(Dispatcher(engine, ROUTERS), "li", "看看支部名单")  # /名单 is for secretaries
    assert "/名单" not in replies(engine, "li")[0]


def test_committee_sees_every_branch_and_can_name_one(engine, rostered):
    dispatcher = Dispatcher(engine, ROUTERS)
    feed(dispatcher, "sun", "/名单")
    feed(dispatcher, "sun", "/名单 第二党支部")
    overview, branch = replies(engine, "sun")
    assert "第一党支部：3 人" in overview and "第二党支部：2 人" in overview
    assert "赵强" in branch and "钱敏" in branch and "李娜" not in branch


def test_secretary_sees_own_branch_grouped_by_role(engine, rostered):
    feed(Dispatcher(engine, ROUTERS), "zhang", "名单")
    [reply] = replies(engine, "zhang")
    assert "支部书记（1）：张伟" in reply and "群众（1）：王芳" in reply and "赵强" not in reply


def test_me_shows_registration(engine, rostered):
    feed(Dispatcher(engine, ROUTERS), "li", "/我")
    [reply] = replies(engine, "li")
    assert "李娜" in reply and "党员" in reply and "第一党支部" in reply and "有职党员" in reply and "有职 是" not in reply


def test_events_are_acknowledged_without_reply(engine, rostered):
    xml = ("<xml><FromUserName>li</FromUserName><CreateTime>1700000000</CreateTime><MsgType>event</MsgType>"
           "<Event>enter_agent</Event><AgentID>1000002</AgentID></xml>")
    assert Dispatcher(engine, ROUTERS).feed_update(parse_update(xml)) == "ignored"
    assert replies(engine, "li") == []
