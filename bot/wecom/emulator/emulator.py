"""WeComEmulator: the emulated platform as one object — state, API, callbacks to the bot, web page."""
from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from bot.wecom.emulator import callbacks, messages
from bot.wecom.emulator.api import EmulatorApi
from bot.wecom.emulator.callbacks import BotEndpoint, Delivery
from bot.wecom.emulator.state import EmulatorState, Entry, Fault, UnknownCard, user_key


class WeComEmulator(EmulatorState):
    def __init__(self, *, corp_id: str, secret: str, agent_id: int, **limits: Any):
        super().__init__(corp_id=corp_id, secret=secret, agent_id=agent_id, **limits)
        self.api = EmulatorApi(self)
        self.bot: BotEndpoint | None = None
        self._background: set[asyncio.Task] = set()

    # -- controls for tests and the demo ----------------------------------------------------
    def connect_bot(self, *, url: str, token: str, aes_key: str, retry_after: float = 5.0, retries: int = 3) -> None:
        self.bot = BotEndpoint(url=url, token=token, aes_key=aes_key, corp_id=self.corp_id,
                               agent_id=self.agent_id, retry_after=retry_after, retries=retries)

    def fail(self, api: str, *faults: Fault) -> None:
        """The next calls of `api` meet these faults, one each, in order."""
        self.faults[api].extend(faults)

    def clear_faults(self) -> None:
        self.faults.clear()

    def expire_tokens(self) -> None:
        self.tokens = {t: 0.0 for t in self.tokens}

    def set_modes(self, *, untrusted_ip: bool | None = None, forbidden_apis: list[str] | None = None,
                  visible_root: bool | None = None, invisible_users: list[str] | None = None) -> dict[str, Any]:
        """Set the setup modes named (state.py says what each does); returns all of them."""
        if untrusted_ip is not None:
            self.mode_untrusted_ip = bool(untrusted_ip)
        if forbidden_apis is not None:
            self.forbidden_apis = set(forbidden_apis)
        if visible_root is not None:
            self.visible_root = bool(visible_root)
        if invisible_users is not None:
            self.invisible_users = {user_key(u) for u in invisible_users}
        return {"untrusted_ip": self.mode_untrusted_ip, "forbidden_apis": sorted(self.forbidden_apis),
                "visible_root": self.visible_root, "invisible_users": sorted(self.invisible_users)}

    # -- what a person does on the phone ----------------------------------------------------
    # Callbacks name the person as the directory spells them, whatever case the caller used.
    async def say(self, userid: str, text: str) -> Delivery:
        userid = self.spelling(userid)
        self.post(userid, userid, "text", {"content": text})
        return await self._bot().deliver(callbacks.text_message(self.corp_id, self.agent_id, userid, text))

    async def send_media(self, userid: str, kind: str, data: bytes, *, filename: str = "",
                         content_type: str = "application/octet-stream") -> tuple[str, Delivery]:
        """A person sends the app an image or a file: the platform keeps it as temporary media (three
        days, like an upload) and the callback names its MediaId (an image's PicUrl too; a file's name).
        Returns the media_id and how the callback went."""
        userid = self.spelling(userid)
        media_id = self.keep_media(data, content_type=content_type, filename=filename)
        self.post(userid, userid, kind, {"media_id": media_id, **({"filename": filename} if filename else {})})
        pic_url = f"https://wework.emulator.invalid/pic/{media_id}" if kind == "image" else ""
        xml = callbacks.media_message(self.corp_id, self.agent_id, userid, kind, media_id, pic_url=pic_url,
                                      file_name=filename if kind == "file" else "")
        return media_id, await self._bot().deliver(xml)

    async def enter(self, userid: str) -> Delivery:
        userid = self.spelling(userid)
        return await self._bot().deliver(callbacks.event(self.corp_id, self.agent_id, userid, "enter_agent"))

    async def click(self, userid: str, entry_id: int, *, key: str | None = None,
                    selected: dict[str, list[str]] | None = None) -> Delivery:
        userid = self.spelling(userid)
        entry = self.open_card(userid, entry_id)
        card = entry.body
        if card["card_type"] in ("vote_interaction", "multiple_interaction"):
            key = card["submit_button"]["key"]
        elif key not in {b["key"] for b in card.get("button_list", [])}:
            raise UnknownCard(f"no button {key!r} on card {entry_id}")
        entry.selected = selected or {}
        xml = callbacks.card_event(self.corp_id, self.agent_id, userid, key=key, task_id=entry.task_id,
                                   card_type=card["card_type"], selected=selected or {},
                                   response_code=messages.new_response_code(self, entry.task_id, [userid]))
        return await self._bot().deliver(xml)

    def in_background(self, work) -> None:
        """The page does not wait for the bot: a callback may take retries to get through."""
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def open_card(self, userid: str, entry_id: int) -> Entry:
        entry = next((e for e in self.cards(userid) if e.id == entry_id and e.task_id), None)
        if entry is None or entry.state:
            raise UnknownCard(f"{userid} has no open card {entry_id}")
        return entry

    def _bot(self) -> BotEndpoint:
        if self.bot is None:
            raise RuntimeError("connect_bot() first: the emulator does not know where the bot listens")
        return self.bot

    def app(self) -> web.Application:
        from bot.wecom.emulator.web import add_page_routes

        app = web.Application()
        self.api.add_routes(app)
        add_page_routes(app, self)
        return app
