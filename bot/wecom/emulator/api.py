"""The WeChat Work server API under /cgi-bin/, played by the emulator: tokens, injected faults,
per-API quotas (quota.py), the setup modes (an untrusted IP, forbidden APIs: state.py says where
each is documented), and the routing to messages.py, chats.py and directory.py, which apply the
platform's rules."""
from __future__ import annotations

import asyncio
import secrets
from functools import partial
from typing import Any

from aiohttp import web

from bot.wecom.emulator import chats, directory, messages, oauth
from bot.wecom.emulator.messages import reply
from bot.wecom.emulator.quota import LIMIT_ERRCODE
from bot.wecom.emulator.state import ALL_APIS, Call, EmulatorState


class EmulatorApi:
    def __init__(self, state: EmulatorState):
        self.state = state
        handlers = {"message/send": messages.message_send, "message/update_template_card": messages.update_template_card,
                    "appchat/create": chats.appchat_create, "appchat/update": chats.appchat_update,
                    "appchat/send": chats.appchat_send, "appchat/get": chats.appchat_get,
                    "user/get": directory.user_get, "user/list": directory.user_list,
                    "department/list": directory.department_list, "agent/get": directory.agent_get,
                    "auth/getuserinfo": oauth.getuserinfo}
        self._routes = {api: partial(handler, state) for api, handler in handlers.items()}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/cgi-bin/{api:.+}", self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        api = request.match_info["api"]
        body = await self._body(request, api)
        if body is None:
            return reply(40035)
        now = self.state.clock()
        self.state.calls.append(Call(api, body, now))
        faulted = await self._fault(request, api)
        if faulted is not None:
            return faulted
        if self.state.quota.refuse(api, now):
            return reply(LIMIT_ERRCODE)
        if api == "gettoken":
            return self.gettoken(body)
        refused = self._setup_error(api) or self._token_error(request.query.get("access_token"))
        if refused == 60020:  # the platform says which address it saw (the IP to add to 企业可信IP)
            return reply(refused, errmsg=f"not allow to access from your ip, from ip: {request.remote}")
        if refused:
            return reply(refused)
        if api == "media/upload":
            return await directory.media_upload(self.state, request)
        if api == "media/get":
            return directory.media_get(self.state, body)
        handler = self._routes.get(api)
        return handler(body) if handler else reply(40035)

    @staticmethod
    async def _body(request: web.Request, api: str) -> dict[str, Any] | None:
        if request.method != "POST" or api == "media/upload":
            return dict(request.query)
        try:
            body = await request.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    async def _fault(self, request: web.Request, api: str) -> web.StreamResponse | None:
        if not self.state.faults[api]:
            return None
        fault = self.state.faults[api].popleft()
        await asyncio.sleep(fault.delay)
        if fault.drop:
            request.transport.close()
            return web.Response(status=500)  # never reaches the client: the connection is gone
        if fault.status:
            return web.Response(status=fault.status, text="upstream error")
        return reply(fault.errcode) if fault.errcode is not None else None

    def gettoken(self, query: dict[str, Any]) -> web.Response:
        if query.get("corpid") != self.state.corp_id:
            return reply(40013)
        if query.get("corpsecret") != self.state.secret:
            return reply(40001)
        token = secrets.token_urlsafe(32)
        self.state.tokens[token] = self.state.clock() + self.state.token_ttl
        return reply(0, access_token=token, expires_in=self.state.token_ttl)

    def _setup_error(self, api: str) -> int:
        """What a misconfigured app meets on every call but gettoken (state.py's modes)."""
        if self.state.mode_untrusted_ip:
            return 60020
        forbidden = self.state.forbidden_apis
        return 48002 if api in forbidden or ALL_APIS in forbidden else 0

    def _token_error(self, token: str | None) -> int:
        if not token:
            return 41001
        if token not in self.state.tokens:
            return 40014
        return 42001 if self.state.tokens[token] <= self.state.clock() else 0
