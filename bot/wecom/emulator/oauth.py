"""网页授权 as the platform plays it (developer.work.weixin.qq.com/document/path/91022, 91023).

GET /connect/oauth2/authorize (the app's WECOM_OAUTH_BASE in the demo) checks the link as the platform
builds it (appid = the corp, response_type=code, scope snsapi_base or snsapi_privateinfo, a state of at
most 128 letters and digits, the app's agentid when given) and sends the browser back to redirect_uri
with code and state added. The code is for the person named by ?user=, else for the person shown on the
emulator's phone page in this browser (static/authorize.html reads it, or lets one be picked).

auth/getuserinfo answers as 91023 documents: {"userid"} for a member of the corp (whether or not in the
app's visible range), {"openid"} for anyone else, and 40029 "invalid code" for a code that is unknown,
used already (只能使用一次) or older than 5 minutes (5分钟未被使用自动过期), on the emulator's clock.

/emulator/app tells the phone page where the app's home page (应用主页) is, when the demo set one.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit
from weakref import WeakKeyDictionary

from aiohttp import web

from bot.wecom.emulator.messages import reply
from bot.wecom.emulator.state import EmulatorState

CODE_SECONDS = 300  # 91023: code只能使用一次，5分钟未被使用自动过期
STATE = re.compile(r"[A-Za-z0-9]{0,128}")  # 91022: state 企业可以填写a-zA-Z0-9的参数值，长度不可超过128个字节
SCOPES = {"snsapi_base", "snsapi_privateinfo"}
PAGE = Path(__file__).with_name("static") / "authorize.html"


@dataclass
class Authorization:
    """The OAuth side of one emulated platform: codes given out, and the app's home page."""

    codes: dict[str, tuple[str, float]] = field(default_factory=dict)  # code -> (userid, when it expires)
    home: str = ""


_OF: WeakKeyDictionary[EmulatorState, Authorization] = WeakKeyDictionary()
EMULATOR = web.AppKey("oauth_emulator", EmulatorState)


def of(state: EmulatorState) -> Authorization:
    return _OF.setdefault(state, Authorization())


def set_home(state: EmulatorState, url: str) -> None:
    """The app's 应用主页, which the phone page offers (the demo points it at the console)."""
    of(state).home = url


def issue_code(state: EmulatorState, userid: str) -> str:
    code = secrets.token_urlsafe(32)
    of(state).codes[code] = (userid, state.clock() + CODE_SECONDS)
    return code


def getuserinfo(state: EmulatorState, query: dict[str, Any]) -> web.Response:
    """GET cgi-bin/auth/getuserinfo?access_token=…&code=… (the token is checked before this)."""
    found = of(state).codes.pop(str(query.get("code", "")), None)  # used once, whatever it answers
    if found is None or found[1] <= state.clock():
        return reply(40029, errmsg="invalid code")
    userid = found[0]
    if state.people and state.person(userid) is None:  # not a member of this corp
        return reply(0, openid="o" + hashlib.sha256(userid.encode()).hexdigest()[:27])
    return reply(0, userid=state.spelling(userid))


def add_routes(app: web.Application, state: EmulatorState) -> None:
    app[EMULATOR] = state
    app.router.add_get("/connect/oauth2/authorize", authorize)
    app.router.add_get("/emulator/app", app_info)


def _problem(state: EmulatorState, query: Any) -> str:
    """What the platform would refuse in this link, in its own terms; "" when nothing."""
    target = urlsplit(query.get("redirect_uri", ""))
    if query.get("appid") != state.corp_id:
        return "invalid appid"
    if query.get("response_type") != "code" or query.get("scope") not in SCOPES:
        return "invalid response_type or scope"
    if target.scheme not in ("http", "https") or not target.netloc:
        return "invalid redirect_uri"
    if not STATE.fullmatch(query.get("state", "")):
        return "invalid state"
    if query.get("agentid") not in (None, str(state.agent_id)):
        return "invalid agentid"
    return ""


async def authorize(request: web.Request) -> web.StreamResponse:
    state, query = request.app[EMULATOR], request.query
    problem = _problem(state, query)
    if problem:
        return web.Response(status=400, text=problem)
    userid = query.get("user")
    if not userid:  # the page asks the browser who is on the phone page, then comes back with ?user=
        return web.FileResponse(PAGE, headers={"Cache-Control": "no-store"})
    code = issue_code(state, state.spelling(userid))
    target = query["redirect_uri"]
    joiner = "&" if urlsplit(target).query else ("" if target.endswith("?") else "?")
    raise web.HTTPFound(f"{target}{joiner}{urlencode({'code': code, 'state': query.get('state', '')})}")


async def app_info(request: web.Request) -> web.Response:
    return web.json_response({"home": of(request.app[EMULATOR]).home})
