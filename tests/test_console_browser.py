"""The console in a real browser (Debian's Chromium, Playwright), opened from the emulator's phone page
as WeChat Work opens an app's 应用主页: sign-in through the emulator's 网页授权 as a committee member, a
secretary, a member and a 群众, on a phone (390×844) and a desktop, and what each sees and does not see.
Never a vote: a poll with a vote in it shows its turnout only."""
from __future__ import annotations

import json
import time
import urllib.request
from datetime import date, timedelta

import pytest

from tests.test_demo_browser import ARTIFACTS, Demo, browser  # noqa: F401 (the fixture)

pytestmark = pytest.mark.slow
PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1280, "height": 800}
COMMITTEE, SECRETARY, MEMBER, MASSES = "u037", "u001", "u002", "u007"  # the demo roster's 沈建国, 王建国, 李强, 黄建国


def say(demo: Demo, userid: str, text: str) -> None:
    request = urllib.request.Request(demo.url + "emulator/say", data=json.dumps({"user": userid, "text": text}).encode(),
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=5)


def replies(demo: Demo, userid: str) -> str:
    with urllib.request.urlopen(demo.url + f"emulator/screen?user={userid}", timeout=5) as response:
        return "\n".join(e["body"].get("content", "") for e in json.loads(response.read())["app"] if e["sender"] == "app")


def wait_for(check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.1)
    return found


def open_home(page, demo: Demo, userid: str) -> str:
    """Be this person on the phone page, tap 应用主页, and land on the console signed in as them."""
    page.goto(demo.url)
    page.select_option("#who", userid)
    page.wait_for_selector("#home:not([hidden])", timeout=15_000)
    page.click("#home")
    page.wait_for_selector("header.top .who", timeout=15_000)
    assert "/console/" in page.url
    return page.inner_text("main")


def console_url(demo: Demo, path: str) -> str:
    return f"http://127.0.0.1:{demo.port + 1}/console/{path}"


def fits(page) -> bool:
    """Nothing wider than the screen: no sideways scrolling on a phone."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.fixture
def demo(tmp_path):
    """The demo with some life in it: two branches' first task closed by the committee, and a poll in
    第一党支部 in which 李强 has voted."""
    demo = Demo(tmp_path).start()
    try:
        say(demo, COMMITTEE, "/标记 第一党支部 1 完成 已在支部大会上完成")
        say(demo, COMMITTEE, "/标记 第二党支部 1 完成 已在支部大会上完成")
        deadline = date.today() + timedelta(days=5)
        say(demo, SECRETARY, f"/评议 支部满意度 截止 {deadline.month}月{deadline.day}日 18:00")
        wait_for(lambda: "已发出" in replies(demo, SECRETARY))
        yield demo
    finally:
        demo.stop()


def vote(page, demo: Demo) -> None:
    page.goto(demo.url)
    page.select_option("#who", MEMBER)
    page.wait_for_selector("#screen .card", timeout=15_000)
    page.check("#screen .card >> text=基本满意")
    page.click("#screen .card button")
    page.wait_for_selector("#screen .card button:disabled", timeout=15_000)


def test_each_role_sees_what_is_theirs_on_a_phone_and_a_desktop(demo, browser):  # noqa: F811
    vote(browser.new_page(viewport=PHONE), demo)
    for viewport in (PHONE, DESKTOP):
        page = browser.new_page(viewport=viewport, device_scale_factor=2 if viewport is PHONE else 1)

        shown = open_home(page, demo, COMMITTEE)
        assert "活动进度（全部支部）" in shown and all(f"第{n}党支部" in shown for n in "一二三四")
        assert page.locator("main svg").count() > 0 and "导出档案" in page.inner_text("nav.menu") and fits(page)
        if viewport is PHONE:  # docs/console.png in the README is this one
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "console.png"), full_page=True)
        page.click("main >> text=第一党支部")
        page.wait_for_selector("text=人员")
        assert "李强" in page.inner_text("main") and fits(page)
        page.click("nav.menu >> text=评议")
        page.click("main table a")  # the newest poll: the one 李强 voted in
        poll = page.inner_text("main")
        assert "1/9" in poll and "结束前不显示任何结果" in poll
        assert "基本满意" not in poll and " 票" not in poll  # the vote is nowhere
        page.goto(console_url(demo, "timeline"))
        assert "今天" in page.inner_text("main") and fits(page)

        shown = open_home(page, demo, SECRETARY)
        assert "第一党支部" in shown and "人员" in shown and "第二党支部" not in shown
        menu = page.inner_text("nav.menu")
        assert "本支部" in menu and "全局概览" not in menu and "操作记录" not in menu and fits(page)
        page.goto(console_url(demo, "branches/2"))
        assert "不在你可以查看的范围内" in page.inner_text("main")

        shown = open_home(page, demo, MEMBER)
        assert "我的任务" in shown and "我的公开承诺" in shown and "支部满意度" not in shown
        assert page.locator("nav.menu").count() == 0 and fits(page)
        page.goto(console_url(demo, "people/u003"))
        assert "不在你可以查看的范围内" in page.inner_text("main")
        page.goto(console_url(demo, "polls"))
        assert "不在你可以查看的范围内" in page.inner_text("main")

        shown = open_home(page, demo, MASSES)
        assert "是做什么的" in shown and "不记名" in shown and "我的任务" not in shown and fits(page)
        assert page.locator("nav.menu").count() == 0
        page.close()


def test_signing_out_needs_the_pages_own_button(demo, browser):  # noqa: F811
    page = browser.new_page(viewport=PHONE)
    open_home(page, demo, SECRETARY)
    page.click("header.top button")  # the page's form carries its session's token
    page.wait_for_selector("text=已退出")
    page.goto(console_url(demo, ""))
    page.wait_for_url("**/console/**")  # signed in again through the platform, as in WeChat Work
    assert "第一党支部" in page.inner_text("main")
