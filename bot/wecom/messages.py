"""Outgoing messages as outbox rows. Handlers call these; only the sender talks to the API.

Payloads leave out ``agentid`` and the duplicate-check fields: the sender adds them from config,
so a queued row stays valid if the app is reconfigured.
"""
from __future__ import annotations

from typing import Iterable, Sequence

from sqlmodel import Session

from bot.texts import split_message
from storage import outbox

TOUSER_LIMIT = 1000
# 94888 (更新模版卡片消息): a response_code, from message/send's answer for an interactive card (all its
# recipients) or from a click's callback (the one who clicked), updates cards once, "且只能在72小时内调用".
RESPONSE_CODE_SECONDS = 72 * 3600


def _body(text: str, markdown: bool) -> dict:
    kind = "markdown" if markdown else "text"
    return {"msgtype": kind, kind: {"content": text}}


def to_person(session: Session, *, key: str, userid: str, text: str, markdown: bool = False,
              reply: bool = False) -> None:
    """reply: an answer to what this person just wrote, sent before any bulk message waiting."""
    for n, part in enumerate(split_message(text)):
        outbox.enqueue(session, key=f"{key}#{n}", endpoint="message/send",
                       payload={"touser": userid, **_body(part, markdown)}, recipients=[userid],
                       channel=f"user:{userid}", priority=outbox.REPLY if reply else outbox.BULK)


def to_each(session: Session, items: Iterable[tuple[str, str, str]]) -> None:
    """A different text to each person, as (key, userid, text), queued in one statement."""
    rows = [(f"{key}#{n}", "message/send", {"touser": userid, **_body(part, False)}, [userid], f"user:{userid}")
            for key, userid, text in items for n, part in enumerate(split_message(text))]
    outbox.enqueue_many(session, rows)


def to_people(session: Session, *, key: str, userids: Iterable[str], text: str, markdown: bool = False) -> None:
    """One identical message to many: one API call per thousand people."""
    people: Sequence[str] = sorted(set(userids))
    for start in range(0, len(people), TOUSER_LIMIT):
        batch = people[start:start + TOUSER_LIMIT]
        for n, part in enumerate(split_message(text)):
            outbox.enqueue(session, key=f"{key}@{start}#{n}", endpoint="message/send",
                           payload={"touser": "|".join(batch), **_body(part, markdown)}, recipients=batch)


def to_chat(session: Session, *, key: str, chat_id: str, text: str, markdown: bool = False) -> None:
    """A branch group chat; group chats cannot carry template cards."""
    for n, part in enumerate(split_message(text)):
        outbox.enqueue(session, key=f"{key}#{n}", endpoint="appchat/send",
                       payload={"chatid": chat_id, **_body(part, markdown)}, channel=f"chat:{chat_id}")


def replace_card_button(session: Session, *, key: str, response_code: str, userids: Sequence[str], text: str,
                        reply_to: str | None = None) -> None:
    """These people's copies of a card, their button replaced by `text` and no longer tappable, with a
    response_code (RESPONSE_CODE_SECONDS); `reply_to`: part of the answer to what this person just did,
    sent with their replies."""
    outbox.enqueue(session, key=key, endpoint="message/update_template_card",
                   payload={"userids": list(userids), "response_code": response_code, "button": {"replace_name": text}},
                   recipients=[], channel=f"user:{reply_to}" if reply_to else None,
                   priority=outbox.REPLY if reply_to else outbox.BULK)


def image_to_chat(session: Session, *, key: str, chat_id: str, png: bytes, filename: str) -> None:
    """A PNG to a branch group chat, after whatever was queued to that chat before it. The bytes wait
    in media_blob; the sender uploads them when the row leaves (media ids expire after three days)."""
    outbox.store_blob(session, key=key, filename=filename, content_type="image/png", data=png)
    outbox.enqueue(session, key=key, endpoint="appchat/send",
                   payload={"chatid": chat_id, "msgtype": "image", "image": {"blob": key}}, channel=f"chat:{chat_id}")


def create_chat(session: Session, *, key: str, chat_id: str, name: str, owner: str | None, members: list[str]) -> None:
    payload = {"chatid": chat_id, "name": name, "userlist": members, **({"owner": owner} if owner else {})}
    outbox.enqueue(session, key=key, endpoint="appchat/create", payload=payload, channel=f"chat:{chat_id}")


def update_chat(session: Session, *, key: str, chat_id: str, owner: str | None,
                add: list[str], remove: list[str]) -> None:
    payload = {"chatid": chat_id, "add_user_list": add, "del_user_list": remove,
               **({"owner": owner} if owner else {})}
    outbox.enqueue(session, key=key, endpoint="appchat/update", payload=payload, channel=f"chat:{chat_id}")


def document_to_person(session: Session, *, key: str, userid: str, submission_id: int, as_image: bool) -> None:
    """A /报送 file (or image) kept in document_file, to one person (a reviewer), after the replies queued
    to them before it; uploaded with media/upload when the row leaves, like a chart."""
    kind = "image" if as_image else "file"
    outbox.enqueue(session, key=key, endpoint="message/send",
                   payload={"touser": userid, "msgtype": kind, kind: {"document": submission_id}},
                   recipients=[userid], channel=f"user:{userid}", priority=outbox.REPLY)


def photo_to_chat(session: Session, *, key: str, chat_id: str, photo_id: int, as_image: bool) -> None:
    """A 践诺 photo kept in progress_photo, to its report's branch group, after what was queued to that
    chat before it (the report's text); uploaded with media/upload when the row leaves, like a chart."""
    kind = "image" if as_image else "file"
    outbox.enqueue(session, key=key, endpoint="appchat/send",
                   payload={"chatid": chat_id, "msgtype": kind, kind: {"photo": photo_id}}, channel=f"chat:{chat_id}")
