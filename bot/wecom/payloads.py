"""What the sender adds to a queued payload as it leaves: the agentid and duplicate check from config
(so a queued row stays valid if the app is reconfigured), and the media_id of a queued image."""
from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

from sqlalchemy import Engine

from bot.config import Settings
from bot.wecom.api import ApiError, WeComClient
from storage import outbox
from storage.db import transaction
from storage.models import DocumentFile, MediaBlob, ProgressPhoto
from storage.sealing import KeyGone, keystore

MEDIA_MSGTYPES = {"image", "file"}  # message types that carry a media_id, queued as a blob key
# The platform drops a message whose whole request equals one it received within that request's
# duplicate_check_interval (90236: 同样内容(请求json)的消息; at most 4 hours). A row sent again after a
# crash between the platform's "ok" and our "sent" must be dropped; two rows that happen to say the
# same thing (帮助 typed twice, the same re-prompt twice) must both arrive. So each row asks for an
# interval of its own, derived from its id: the same row always sends the same request, two rows
# differ unless their ids are a multiple of DUPLICATE_CHECK_SPAN apart. The shortest interval still
# outlasts a re-send after a crash (the row's lease, 70 s by default, and a restart).
DUPLICATE_CHECK_SHORTEST, DUPLICATE_CHECK_LONGEST = 600, 14_400
DUPLICATE_CHECK_SPAN = DUPLICATE_CHECK_LONGEST - DUPLICATE_CHECK_SHORTEST + 1


def duplicate_check_interval(row_id: int) -> int:
    return DUPLICATE_CHECK_SHORTEST + row_id % DUPLICATE_CHECK_SPAN


def unsealed(row: outbox.Claimed) -> outbox.Claimed | None:
    """A row queued sealed (a vote's card update, bot/polls/vote.py) with its call opened; None when
    there is nothing to call: the vote was typed, or the poll closed and its key is gone (the card
    shows the poll's end instead)."""
    if "sealed" not in row.payload:
        return row
    try:
        call = json.loads(keystore().open(row.payload["sealed"]))
    except KeyGone:
        return None
    return dataclasses.replace(row, payload=call) if call else None


def with_defaults(row: outbox.Claimed, settings: Settings) -> dict[str, Any]:
    if row.endpoint == "message/update_template_card":
        return {**row.payload, "agentid": settings.agent_id}
    if row.endpoint != "message/send":
        return row.payload
    return {**row.payload, "agentid": settings.agent_id,
            "enable_duplicate_check": 1, "duplicate_check_interval": duplicate_check_interval(row.id)}


async def with_media(client: WeComClient, engine: Engine, payload: dict[str, Any], deadline: float) -> dict[str, Any]:
    """An image or a file queued as {"blob": key}, {"document": id} or {"photo": id} is uploaded now and
    sent as {"media_id": ...}: at send time, because media ids expire after three days. Upload errors
    are retried or dead-lettered like sends."""
    kind = payload.get("msgtype")
    content = payload.get(kind) if kind in MEDIA_MSGTYPES else None
    if not isinstance(content, dict) or not {"blob", "document", "photo"} & content.keys():
        return payload
    blob = await asyncio.to_thread(_load_blob, engine, content)
    if blob is None:  # nothing to upload, now or later: a dead letter, not a retry
        raise ApiError(40007, f"media {content!r} is missing")
    media_id = await client.upload(kind, filename=blob.filename, content_type=blob.content_type,
                                   data=blob.data, deadline=deadline)
    return {**payload, kind: {"media_id": media_id}}


def _load_blob(engine: Engine, content: dict[str, Any]) -> MediaBlob | DocumentFile | ProgressPhoto | None:
    """{"blob": key}: bytes queued with the message (a chart); {"document": id}: a /报送 file kept in
    document_file, re-sent to a reviewer without copying its bytes into the outbox; {"photo": id}: a
    践诺 photo kept in progress_photo, posted to the branch group."""
    with transaction(engine) as session:  # expire_on_commit=False: still readable afterwards
        if "document" in content:
            return session.get(DocumentFile, int(content["document"]))
        if "photo" in content:
            photo = session.get(ProgressPhoto, int(content["photo"]))
            return photo if photo is not None and photo.data is not None else None
        return session.get(MediaBlob, content.get("blob"))
