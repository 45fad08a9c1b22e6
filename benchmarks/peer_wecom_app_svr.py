"""The peer for benchmarks/callback_load.py: the PyPI package `wecom-app-svr` (a Flask WeChat Work
app callback server) with handlers that only echo, as a WSGI module for gunicorn:

    WECOM_APP_TOKEN=… WECOM_APP_AES_KEY=… WECOM_APP_CORP_ID=… \\
        /tmp/peer-venv/bin/gunicorn -w 2 -b 127.0.0.1:8801 --chdir benchmarks peer_wecom_app_svr:app

It runs in its own virtual environment (`pip install wecom-app-svr gunicorn`); nothing of it is
copied here. `WecomAppServer` registers its routes only inside `run()` (which starts Flask's
development server), so they are registered here on `server._app` with the package's own
`handle_app_call_get/post`: signature check and AES decrypt by its `wx_crypt.WXBizMsgCrypt`, XML
parse by ElementTree, the echo handler, and the encrypted passive reply it always writes.

One compatibility shim, on by default: wecom-app-svr 0.1.0 builds every callback with `ReqMsg`,
which reads `MsgId` (events have none) and, for events, `Event/EventType` (WeChat Work sends the
event name as the text of `Event`), so every `template_card_event` raises AttributeError and
Flask answers 500. The shim replaces only its `EventReqMsg` with one that reads those fields
tolerantly, so card taps take the same path as texts (decrypt, parse, handler, encrypted reply)
— more work than the 500, never less. `PEER_AS_IS=1` measures the package unpatched.
"""
from __future__ import annotations

import os

from wecom_app_svr import RspTextMsg, WecomAppServer, req_msg

PATH = "/wecom/callback"


class _EventReqMsg(req_msg.ReqMsg):
    def __init__(self, xml_tree):  # noqa: D107 - deliberately not calling ReqMsg.__init__ (it needs MsgId)
        def text(tag: str) -> str:
            return xml_tree.findtext(tag) or ""
        self.to_user, self.from_user, self.agent_id = text("ToUserName"), text("FromUserName"), text("AgentID")
        self.create_time, self.msg_type, self.msg_id = int(text("CreateTime") or 0), "event", ""
        self.event_type = text("Event")


if os.environ.get("PEER_AS_IS") != "1":
    req_msg.EventReqMsg = _EventReqMsg  # ReqMsg.create_msg looks the class up by this name at call time


def echo_message(msg):
    return RspTextMsg(from_user_name=msg.to_user, to_user_name=msg.from_user, content=getattr(msg, "content", ""))


def echo_event(msg):
    return RspTextMsg(from_user_name=msg.to_user, to_user_name=msg.from_user, content=msg.event_type)


server = WecomAppServer("peer", "127.0.0.1", 0, PATH)  # token, aes_key, corp_id from WECOM_APP_* variables
server.set_message_handler(echo_message)
server.set_event_handler(echo_event)
server._app.get(PATH)(server.handle_app_call_get)
server._app.post(PATH)(server.handle_app_call_post)
server._app.get("/healthz")(lambda: "ok")
app = server._app
