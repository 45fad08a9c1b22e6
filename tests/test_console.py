"""The console over HTTP, on SQLite and PostgreSQL: sign-in through the emulator's 网页授权 (state, a
code used once, a session that is signed and expires), CSRF on every POST, who may see which page
(403s), and that its counts are the ledger's. The browser's view is tests/test_console_browser.py."""
from __future__ import annotations

import io
import socket
import time
import zipfile
from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from openpyxl import load_workbook
from sqlalchemy import delete, func, insert, select
from sqlmodel import Session

from bot.app import build_app
from bot.campaigns import load_campaign_text, save_campaign
from bot.console import auth
from bot.console.progress import progress
from bot.console.routes import CONSOLE
from bot.scheduler.obligations import Obligations
from bot.wecom.emulator import Fault, oauth
from storage import progress as counted
from storage.db import transaction
from storage.models import (AccessToken, Branch, CampaignTask, DocumentFile, DocumentSubmission, Pledge, Poll,
                            PollVoter, Rating, TaskDone)
from tests.conftest import eventually, make_settings

TODAY = date(2026, 5, 11)
ROSTER = """userid,name,branch,role,有职
boss,党委甲,,党委,是
sec1,书记甲,第一党支部,支部书记,是
m1,党员甲,第一党支部,党员,是
m2,党员乙,第一党支部,党员,
q1,群众甲,第一党支部,群众,
sec2,书记乙,第二党支部,支部书记,
m3,党员丙,第二党支部,党员,
"""
CAMPAIGN = f"""
name: 控制台测试
source: tests
standards: {{member: 五带头, branch: 五个好}}
standard_sets:
  五带头: {{items: [带头学习提高]}}
  五个好: {{items: [领导班子好]}}
phases:
  - name: 公开承诺
    start: {TODAY - timedelta(days=20)}
    end: {TODAY + timedelta(days=40)}
    tasks:
      - {{id: pledge, title: 党员公开承诺, kind: pledge, audience: members, due: {TODAY - timedelta(days=5)}}}
      - {{id: post, title: 有职党员岗位承诺, kind: self_assessment, audience: post_holders, due: {TODAY + timedelta(days=10)}}}
      - {{id: plan, title: 支部报送方案, kind: document, audience: branches, due: {TODAY - timedelta(days=2)}}}
      - {{id: rate, title: 局党委分类定级, kind: rating, audience: committee, due: {TODAY + timedelta(days=20)}}}
      - {{id: rate2, title: 局党委复评定级, kind: rating, audience: committee, due: {TODAY + timedelta(days=35)}}}
      - {{id: poll, title: 群众评议, kind: poll, audience: masses, due: {TODAY + timedelta(days=30)}}}
"""


@pytest.fixture
def town(engine, tmp_path):
    """The roster and campaign, and what some of them have done: m1 pledged, 第二党支部 sent its plan."""
    from bot.roster import import_roster

    (tmp_path / "roster.csv").write_text(ROSTER, encoding="utf-8")
    import_roster(engine, tmp_path / "roster.csv")
    with transaction(engine) as session:
        record = save_campaign(session, load_campaign_text(CAMPAIGN), source_file="test").record
        tasks = {t.key: t.id for t in session.scalars(select(CampaignTask))}
        branches = {b.name: b.id for b in session.scalars(select(Branch))}
        session.add(TaskDone(task_id=tasks["pledge"], subject="m1"))
        session.add(TaskDone(task_id=tasks["plan"], subject=f"branch:{branches['第二党支部']}"))
        session.add(Pledge(campaign_id=record.id, task_id=tasks["pledge"], userid="m1", branch_id=branches["第一党支部"],
                           items=[{"standard": "带头学习提高", "what": "每周读一本书", "how": "晚上读", "by": "2026-06-30"}]))
    return {"tasks": tasks, "branches": branches, "campaign": record.id}


@pytest.fixture
async def console(engine, db_url, emulator, emulator_url, aiohttp_client, town):
    """The bot's app with the console, the emulator as its platform (directory: everyone in the roster,
    and one person the bot's roster does not have)."""
    for userid in ("boss", "sec1", "m1", "m2", "q1", "sec2", "m3", "newcomer"):
        emulator.add_person(userid, userid)
    # http_timeout: the conftest's 0.5 s is for tests of timeouts; a loaded CI machine (PostgreSQL and the
    # emulator on one event loop) can stall a token fetch that long, and a sign-in would then be a 503.
    settings = make_settings(db_url, emulator_url, http_timeout=10,
                             oauth_base=emulator_url.replace("/cgi-bin", "/connect/oauth2/authorize"))
    client = await aiohttp_client(build_app(settings, engine))
    client.server.app[CONSOLE].today = lambda: TODAY
    client.platform = aiohttp.ClientSession()  # the browser's visits to the platform's pages
    yield client
    await client.platform.close()


async def leave_for_platform(client, path: str = "/console/") -> str:
    """GET a page without a session: the authorize URL it sends the browser to."""
    response = await client.get(path, allow_redirects=False)
    assert response.status == 302
    return response.headers["Location"]


async def code_for(client, location: str, userid: str) -> tuple[str, str]:
    """The platform's page, for this person: (the code, the state) it sends back to the console."""
    url = location.split("#")[0] + f"&user={userid}"
    async with client.platform.get(url, allow_redirects=False) as response:
        assert response.status == 302, await response.text()
        back = parse_qs(urlsplit(response.headers["Location"]).query)
    return back["code"][0], back["state"][0]


async def sign_in(client, userid: str) -> None:
    code, state = await code_for(client, await leave_for_platform(client), userid)
    response = await client.get("/console/", params={"code": code, "state": state}, allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == "/console/", await response.text()


def session_cookie(client) -> str | None:
    found = [c for c in client.session.cookie_jar if c.key == auth.SESSION_COOKIE]
    return found[0].value if found else None


def exchanges(emulator) -> int:
    return emulator.count("auth/getuserinfo")


# -- signing in -------------------------------------------------------------------------------------------
async def test_a_page_without_a_session_goes_to_the_platforms_authorize_page(console, emulator):
    location = await leave_for_platform(console, "/console/polls?page=2")
    url = urlsplit(location)
    query = parse_qs(url.query)
    assert f"{url.scheme}://{url.netloc}{url.path}".endswith("/connect/oauth2/authorize")
    assert url.fragment == "wechat_redirect"
    assert query["appid"] == [emulator.corp_id] and query["agentid"] == [str(emulator.agent_id)]
    assert query["response_type"] == ["code"] and query["scope"] == ["snsapi_base"]
    assert query["redirect_uri"] == [str(console.make_url("/console/"))]
    assert auth.STATE.fullmatch(query["state"][0])
    code, state = await code_for(console, location, "boss")
    response = await console.get("/console/", params={"code": code, "state": state}, allow_redirects=False)
    assert response.headers["Location"] == "/console/polls?page=2"  # back where they were going


async def test_signing_in_sets_a_signed_httponly_lax_cookie_that_expires(console):
    code, state = await code_for(console, await leave_for_platform(console), "boss")
    response = await console.get("/console/", params={"code": code, "state": state}, allow_redirects=False)
    cookie = response.cookies[auth.SESSION_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/console/"
    assert int(cookie["max-age"]) == 8 * 3600 and not cookie["secure"]  # plain http here
    page = await console.get("/console/")
    assert page.status == 200 and "活动进度（全部支部）" in await page.text()


async def test_over_https_the_cookie_is_secure(engine, db_url, emulator_url, aiohttp_client, town):
    settings = make_settings(db_url, emulator_url, public_url="https://xf.example.cn")
    client = await aiohttp_client(build_app(settings, engine))
    response = await client.get("/console/", allow_redirects=False)
    assert response.cookies[auth.LOGIN_COOKIE]["secure"]
    redirect = parse_qs(urlsplit(response.headers["Location"]).query)["redirect_uri"][0]
    assert redirect == "https://xf.example.cn/console/"


async def test_a_wrong_state_is_refused_before_the_code_is_exchanged(console, emulator):
    code, _state = await code_for(console, await leave_for_platform(console), "boss")
    response = await console.get("/console/", params={"code": code, "state": "0" * 32}, allow_redirects=False)
    assert response.status == 400 and "请重新打开" in await response.text()
    assert exchanges(emulator) == 0 and session_cookie(console) is None
    other = aiohttp.CookieJar(unsafe=True)  # a browser that never started this sign-in, given the link
    async with aiohttp.ClientSession(cookie_jar=other) as stranger:
        async with stranger.get(console.make_url("/console/"), params={"code": code, "state": _state},
                                allow_redirects=False) as response:
            assert response.status == 400
    assert exchanges(emulator) == 0


async def test_a_replayed_code_is_refused(console, emulator):
    code, state = await code_for(console, await leave_for_platform(console), "boss")
    first = await console.get("/console/", params={"code": code, "state": state}, allow_redirects=False)
    assert first.status == 302 and exchanges(emulator) == 1, await first.text()
    console.session.cookie_jar.clear()
    _unused, new_state = await code_for(console, await leave_for_platform(console), "boss")
    response = await console.get("/console/", params={"code": code, "state": new_state}, allow_redirects=False)
    assert response.status == 400 and "只能用一次" in await response.text()
    assert session_cookie(console) is None and exchanges(emulator) == 2


async def test_a_platform_that_cannot_be_reached_gets_a_kind_503_and_no_session(engine, db_url, emulator_url,
                                                                                 aiohttp_client, town, emulator):
    emulator.add_person("boss", "boss")
    with socket.socket() as closed:  # a port nobody listens on: the bot's API calls cannot connect
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}/cgi-bin"
    settings = make_settings(db_url, dead, oauth_base=emulator_url.replace("/cgi-bin", "/connect/oauth2/authorize"))
    client = await aiohttp_client(build_app(settings, engine))
    client.platform = aiohttp.ClientSession()
    try:
        code, state = await code_for(client, await leave_for_platform(client), "boss")
        response = await client.get("/console/", params={"code": code, "state": state}, allow_redirects=False)
        assert response.status == 503 and "暂时连不上企业微信" in await response.text()
        assert session_cookie(client) is None
    finally:
        await client.platform.close()


async def test_a_token_fetch_that_fails_once_is_tried_again_and_the_sign_in_goes_through(console, emulator, engine):
    # A token may be fetched twice; the code may not be exchanged twice (the platform uses it up).
    def stored() -> bool:  # the sender's token, fetched for the roster's group chats
        with Session(engine) as session:
            return session.scalar(select(func.count()).select_from(AccessToken)) > 0

    await eventually(stored)
    with transaction(engine) as session:
        session.execute(delete(AccessToken))  # so the sign-in fetches one (the console has its own client)
    emulator.fail("gettoken", Fault(status=502))
    code, state = await code_for(console, await leave_for_platform(console), "boss")
    response = await console.get("/console/", params={"code": code, "state": state}, allow_redirects=False)
    assert response.status == 302 and session_cookie(console) is not None, await response.text()
    assert emulator.count("gettoken") == 3 and exchanges(emulator) == 1


async def test_a_code_expires_after_five_minutes_on_the_platform(console, emulator):
    code, state = await code_for(console, await leave_for_platform(console), "boss")
    emulator.clock = lambda: time.time() + oauth.CODE_SECONDS + 1
    response = await console.get("/console/", params={"code": code, "state": state}, allow_redirects=False)
    assert response.status == 400 and session_cookie(console) is None


async def test_someone_not_in_the_roster_gets_a_kind_page(console):
    code, state = await code_for(console, await leave_for_platform(console), "newcomer")
    response = await console.get("/console/", params={"code": code, "state": state}, allow_redirects=False)
    text = await response.text()
    assert response.status == 403 and "名单里还没有你" in text and "联系支部书记" in text
    assert session_cookie(console) is None
    code, state = await code_for(console, await leave_for_platform(console), "outsider")  # not even in the corp
    response = await console.get("/console/", params={"code": code, "state": state}, allow_redirects=False)
    assert response.status == 403 and "名单里还没有你" in await response.text()


async def test_a_forged_or_expired_or_borrowed_cookie_is_no_session(console):
    signer = console.server.app[CONSOLE].signer
    now = time.time()
    forged = auth.Signer(b"not the key" * 3).dumps("session", {"u": "boss", "n": "x", "e": now + 3600})
    expired = signer.dumps("session", {"u": "boss", "n": "x", "e": now - 1})
    borrowed = signer.dumps("login", {"u": "boss", "n": "x", "s": "a", "w": "/console/", "e": now + 600})
    valid, _ = auth.new_session(signer, "boss", now=now)
    tampered = valid.replace(valid.split(".")[0], auth._b64(b'{"u":"boss","n":"x","e":9999999999}'))
    for cookie in (forged, expired, borrowed, tampered, "garbage", valid + "x"):
        console.session.cookie_jar.update_cookies({auth.SESSION_COOKIE: cookie})
        response = await console.get("/console/", allow_redirects=False)
        assert response.status == 302 and "/connect/oauth2/authorize" in response.headers["Location"], cookie
    console.session.cookie_jar.update_cookies({auth.SESSION_COOKIE: valid})
    assert (await console.get("/console/", allow_redirects=False)).status == 200


# -- CSRF ---------------------------------------------------------------------------------------------------
async def test_a_post_without_the_sessions_token_is_refused(console):
    await sign_in(console, "boss")
    page = await (await console.get("/console/")).text()
    token = page.split('name="csrf" value="')[1].split('"')[0]
    for form in ({}, {"csrf": ""}, {"csrf": "x" + token[1:]}, {"csrf": auth.csrf_token(
            auth.Signer(b"k" * 32), auth.Session("boss", "n", 0))}):
        response = await console.post("/console/logout", data=form)
        assert response.status == 403 and "安全校验" in await response.text()
        assert (await console.get("/console/", allow_redirects=False)).status == 200  # still signed in
    response = await console.post("/console/logout", data={"csrf": token})
    assert response.status == 200 and "已退出" in await response.text()
    assert (await console.get("/console/", allow_redirects=False)).status == 302


async def test_a_token_is_bound_to_its_session(console):
    await sign_in(console, "boss")
    first = (await (await console.get("/console/")).text()).split('name="csrf" value="')[1].split('"')[0]
    console.session.cookie_jar.clear()
    await sign_in(console, "boss")  # a new session: the old page's token no longer does
    response = await console.post("/console/logout", data={"csrf": first})
    assert response.status == 403
    console.session.cookie_jar.clear()
    assert (await console.post("/console/logout", data={"csrf": first})).status == 403  # and none without one


# -- who sees what -----------------------------------------------------------------------------------------
async def test_the_committee_sees_every_branch_and_each_person(console, town):
    await sign_in(console, "boss")
    text = await (await console.get("/console/")).text()
    assert "第一党支部" in text and "第二党支部" in text and "<svg" in text
    for path in (f"/console/branches/{town['branches']['第二党支部']}", "/console/people/m3", "/console/polls",
                 "/console/ratings", "/console/pledges", "/console/documents", "/console/timeline",
                 "/console/exports", "/console/audit"):
        response = await console.get(path)
        assert response.status == 200, path
    pledges = await (await console.get("/console/pledges")).text()
    assert "党员甲 · 党员公开承诺" in pledges and "每周读一本书" in pledges and "措施：晚上读" in pledges
    timeline = await (await console.get("/console/timeline")).text()
    assert '<li class="today">今天 5月11日</li>' in timeline and "截止：党员公开承诺（党员）" in timeline


async def test_a_secretary_gets_403_for_another_branch(console, town):
    await sign_in(console, "sec1")
    home = await (await console.get("/console/")).text()
    assert "第一党支部" in home and "党员甲" in home and "全局概览" not in home and "操作记录" not in home
    other = town["branches"]["第二党支部"]
    own = town["branches"]["第一党支部"]
    assert (await console.get(f"/console/branches/{own}")).status == 200
    for path in (f"/console/branches/{other}", f"/console/pledges?branch={other}", f"/console/polls?branch={other}",
                 f"/console/documents?branch={other}", f"/console/ratings?branch={other}", "/console/people/m3",
                 "/console/audit"):
        response = await console.get(path)
        assert response.status == 403 and "不在你可以查看的范围内" in await response.text(), path
    assert (await console.get("/console/people/m2")).status == 200  # a person of their own branch


async def test_a_member_gets_403_for_another_person(console, town):
    await sign_in(console, "m1")
    home = await (await console.get("/console/")).text()
    assert "我的任务" in home and "党员公开承诺" in home and "每周读一本书" in home
    assert "全局概览" not in home and "本支部" not in home
    for path in ("/console/people/m2", "/console/people/sec1", "/console/people/nobody",
                 f"/console/branches/{town['branches']['第一党支部']}", "/console/polls", "/console/pledges",
                 "/console/documents", "/console/timeline", "/console/exports"):
        response = await console.get(path)
        assert response.status == 403, path
    assert (await console.get("/console/people/m1")).status == 200


async def test_masses_see_what_the_app_is_for_and_nothing_else(console, town):
    await sign_in(console, "q1")
    home = await (await console.get("/console/")).text()
    assert "是做什么的" in home and "不记名" in home and "我的任务" not in home
    for path in ("/console/people/q1", "/console/people/m1", "/console/polls",
                 f"/console/branches/{town['branches']['第一党支部']}"):
        assert (await console.get(path)).status == 403, path


# -- what the pages hold -----------------------------------------------------------------------------------
def test_the_consoles_counts_are_the_ledgers(engine, town):
    """Counted in the database by groups, the console's figures equal the ledger's parties task by task
    and branch by branch (bot/scheduler/obligations.py)."""
    with Session(engine) as session:
        found = progress(session, today=TODAY)
        ledger = Obligations(session, today=TODAY)
        assert found.tasks == ledger.tasks
        for task in ledger.tasks:
            expected: dict = {}
            for subject, person in ledger.parties(task):
                due, done = expected.get(person.branch_id, (0, 0))
                expected[person.branch_id] = (due + 1, done + int((task.id, subject) in ledger.done))
            got = {branch: (c.due, c.done) for (task_id, branch), c in found.cells.items() if task_id == task.id and c.due}
            assert got == expected, task.title
        branch = town["branches"]["第一党支部"]
        alone = progress(session, today=TODAY, branch_id=branch)
        assert counted.people_groups(session)[(branch, "member", "是")] == 1  # m1; m2 has none
        merged: dict = {}
        for (b, role, _post), n in counted.people_groups(session).items():
            merged[(b, role, None)] = merged.get((b, role, None), 0) + n
        assert counted.people_groups(session, post_held=False) == merged
        assert sum(counted.done_groups(session, task_ids=[t.id for t in ledger.tasks], post_held=False).values()) == \
            sum(counted.done_groups(session, task_ids=[t.id for t in ledger.tasks]).values())
        assert {k: (c.due, c.done) for k, c in alone.cells.items()} == \
            {k: (c.due, c.done) for k, c in found.cells.items() if k[1] == branch}


async def test_overview_counts_done_of_due_and_overdue(console, town):
    await sign_in(console, "boss")
    text = await (await console.get("/console/")).text()
    # members' pledge: m1 done of sec1, m1, m2, sec2, m3 (overdue: 4); the branches' plan: 1 of 2 (overdue: 1)
    row = text.split("<td>党员公开承诺<div")[1].split("</tr>")[0]
    assert ">1/5<" in row and ">4<" in row
    row = text.split("<td>支部报送方案<div")[1].split("</tr>")[0]
    assert ">1/2<" in row and ">1<" in row
    assert "有职党员岗位承诺" in text  # due later: open, not overdue


async def test_a_poll_shows_turnout_while_open_and_its_result_after_the_close(console, engine, town):
    branch = town["branches"]["第一党支部"]
    with transaction(engine) as session:
        common = dict(branch_id=branch, issuer="sec1", rates="branch", scale="满意度", options=["满意", "基本满意", "不满意"],
                      satisfied=["满意", "基本满意"], voters="both", deadline=time.time() + 3600)
        session.add(Poll(id=70, subject="第一党支部满意度", **common))
        session.add(Poll(id=71, subject="上半年满意度", status="closed", closed_at=time.time(), **common, result={
            "published": True, "valid": 6, "counts": {"满意": 4, "基本满意": 1, "不满意": 1}, "rate": 5 / 6,
            "satisfied": ["满意", "基本满意"], "satisfied_votes": 5, "eligible": 8, "voted": 6, "turnout": 0.75,
            "min_ballots": 5, "comments": ["多组织学习"], "formula": "满意率 =（满意 + 基本满意）÷ 有效票 = 5 ÷ 6 = 83.3%"}))
        session.flush()
        session.execute(insert(PollVoter), [{"poll_id": 70, "userid": u, "voted": u in ("m1", "q1")}
                                            for u in ("sec1", "m1", "m2", "q1")])
    await sign_in(console, "sec1")
    text = await (await console.get("/console/polls/70")).text()
    assert "2/4" in text and "结束前不显示任何结果" in text
    shown = text.split("<main>")[1]
    assert "基本满意" not in shown and "不满意" not in shown and " 票" not in shown  # nothing of a vote
    text = await (await console.get("/console/polls/71")).text()
    assert "83.3%" in text and "<svg" in text and "4 票" in text and "多组织学习" in text
    console.session.cookie_jar.clear()
    await sign_in(console, "sec2")
    assert (await console.get("/console/polls/70")).status == 403


async def test_ratings_are_shown_with_their_explanation_and_history(console, engine, town):
    branch = town["branches"]["第一党支部"]
    inputs = {"branch_ratings": {"领导班子好": "好"}, "poll": "published", "poll_subject": "第一党支部满意度",
              "satisfaction": 0.9, "superior": 80.0}
    with transaction(engine) as session:
        session.add(Rating(campaign_id=town["campaign"], task_id=town["tasks"]["rate"], branch_id=branch, level="一般",
                           score=65.0, status="confirmed", confirmed_by="boss", confirmed_at=time.time(),
                           inputs={**inputs, "superior": 40.0}))
        session.add(Rating(campaign_id=town["campaign"], task_id=town["tasks"]["rate2"], branch_id=branch, level="强",
                           score=90.0, inputs=inputs, rule_version="控制台测试·1"))
    await sign_in(console, "sec1")
    text = await (await console.get("/console/ratings")).text()
    assert "局党委分类定级" in text and "局党委复评定级" in text and "党委甲" in text  # rounds, who confirmed
    assert "得分 = 100×0.3 + 90×0.4 + 80×0.3 = 90" in text and "满意率 90%" in text  # the explanation
    assert "历次定级：一般 → 强（晋位升级）" in text and "第二党支部" not in text.split("<main>")[1]


def submit_file(engine, town, number: int, branch: str, userid: str, name: str, data: bytes) -> None:
    branch_id = town["branches"][branch]
    with transaction(engine) as session:
        session.add(DocumentSubmission(id=number, campaign_id=town["campaign"], task_id=town["tasks"]["plan"],
                                       task_title="支部报送方案", subject=f"branch:{branch_id}", branch_id=branch_id,
                                       userid=userid, kind="file", media_id="m", file_name=name, file_status="kept"))
        session.flush()
        session.add(DocumentFile(submission_id=number, filename=name, content_type="text/html", size=len(data),
                                 sha256="0" * 64, fetched_at=time.time(), data=data))


async def test_a_submitted_file_is_downloaded_only_by_those_allowed(console, engine, town):
    submit_file(engine, town, 5, "第一党支部", "sec1", "方案.html", b"<script>1</script>")
    for userid, status in (("boss", 200), ("sec1", 200), ("sec2", 403), ("m1", 403)):
        console.session.cookie_jar.clear()
        await sign_in(console, userid)
        response = await console.get("/console/documents/5/file")
        assert response.status == status, userid
        if status == 200:
            assert response.headers["Content-Disposition"].startswith("attachment;")
            assert "sandbox" in response.headers["Content-Security-Policy"]
            assert await response.read() == b"<script>1</script>"
    console.session.cookie_jar.clear()
    await sign_in(console, "boss")
    listing = await (await console.get("/console/documents")).text()
    assert "/console/documents/5/file" in listing and "方案.html" in listing


async def test_the_committee_downloads_an_excel_export(console, town):
    await sign_in(console, "boss")
    response = await console.get(f"/console/exports/{town['campaign']}/ledger")
    assert response.status == 200 and "attachment" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(await response.read()))
    assert book.worksheets[0].max_row > 1
    assert (await console.get(f"/console/exports/{town['campaign']}/nonsense")).status == 404


async def test_a_secretarys_export_holds_their_branch_only(console, town):
    rows = {}
    for userid in ("boss", "sec1"):
        console.session.cookie_jar.clear()
        await sign_in(console, userid)
        assert "导出档案" in await (await console.get("/console/exports")).text()
        for what in ("ledger", "pledges"):
            response = await console.get(f"/console/exports/{town['campaign']}/{what}")
            assert response.status == 200, (userid, what)
            book = load_workbook(io.BytesIO(await response.read()))
            rows[(userid, what)] = [(sheet.title, row) for sheet in book.worksheets
                                    for row in sheet.iter_rows(min_row=2, values_only=True)]
    branches = {row[0] for _title, row in rows[("boss", "ledger")]}
    assert {"第一党支部", "第二党支部"} <= branches
    assert {row[0] for _title, row in rows[("sec1", "ledger")]} == {"第一党支部"}
    assert [r for r in rows[("boss", "ledger")] if r[1][0] == "第一党支部"] == rows[("sec1", "ledger")]
    assert {title for title, _row in rows[("sec1", "pledges")]} == {"第一党支部"}
    console.session.cookie_jar.clear()
    await sign_in(console, "m1")
    assert (await console.get(f"/console/exports/{town['campaign']}/ledger")).status == 403


async def test_a_secretarys_documents_export_carries_their_branchs_files_only(console, engine, town):
    submit_file(engine, town, 5, "第一党支部", "sec1", "一支部方案.txt", b"first")
    submit_file(engine, town, 6, "第二党支部", "sec2", "二支部方案.txt", b"second")
    names = {}
    for userid in ("boss", "sec2"):
        console.session.cookie_jar.clear()
        await sign_in(console, userid)
        response = await console.get(f"/console/exports/{town['campaign']}/documents")
        assert response.status == 200 and response.headers["Content-Type"] == "application/zip"
        with zipfile.ZipFile(io.BytesIO(await response.read())) as bundle:
            names[userid] = {name.rsplit("/", 1)[-1] for name in bundle.namelist()}
    assert {"5-一支部方案.txt", "6-二支部方案.txt"} <= names["boss"]
    assert "6-二支部方案.txt" in names["sec2"] and "5-一支部方案.txt" not in names["sec2"]


async def test_the_audit_log_is_shown_to_the_committee(console, engine):
    """The log in words, newest first, with whether the whole chain verifies (storage/audit.py)."""
    await sign_in(console, "boss")
    response = await console.get("/console/audit")
    page = await response.text()
    assert response.status == 200 and "操作记录" in page and "导入名单" in page and "逐条核对无误" not in page
    checked = await (await console.get("/console/audit?verify=1")).text()  # the whole log read only when asked
    assert "逐条核对无误" in checked


async def test_the_emulators_authorize_page_checks_the_link_as_the_platform_does(console, emulator):
    location = (await leave_for_platform(console)).split("#")[0]
    for wrong in (("appid", "wwother"), ("scope", "snsapi_userinfo"), ("response_type", "token"),
                  ("redirect_uri", "javascript:alert(1)"), ("state", "x" * 129), ("agentid", "1")):
        url = urlsplit(location)
        query = {k: v[0] for k, v in parse_qs(url.query).items()} | dict([wrong]) | {"user": "boss"}
        async with console.platform.get(f"{url.scheme}://{url.netloc}{url.path}", params=query,
                                        allow_redirects=False) as response:
            assert response.status == 400, wrong
    async with console.platform.get(location, allow_redirects=False) as response:  # nobody named: the page asks
        assert response.status == 200 and "xianfeng-emulator-user" in await response.text()
    assert not oauth.of(emulator).codes
