"""The documents sheet of `xianfeng export documents`: every submission sent with /报送, with what it
was (the text itself, or the image's link and the MediaId of an image or a file), and the committee's
decision. MediaIds can be fetched with media/get for three days after they were sent; the sheet keeps
them so the 党建档案 shows what came, even when the file itself was not fetched in time."""
from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlmodel import Session

from bot.exports.book import names_of, when, workbook
from bot.texts import vocabulary
from storage import documents
from storage.models import CampaignRecord, DocumentSubmission


def _row(doc: DocumentSubmission, branch: str, names: dict[str, str], words: dict, tz: ZoneInfo) -> list[Any]:
    kinds, status = vocabulary()["documents"]["kinds"], words["document_status"]
    return [branch, doc.task_title, names.get(doc.userid, doc.userid), doc.userid, kinds.get(doc.kind, doc.kind),
            doc.text, doc.pic_url, doc.file_name, doc.media_id, when(doc.submitted_at, tz),
            status.get(doc.status, doc.status), names.get(doc.reviewer, doc.reviewer) if doc.reviewer else None,
            doc.comment, when(doc.reviewed_at, tz) if doc.reviewed_at else None, doc.id]


def documents_book(session: Session, record: CampaignRecord, branches: dict[int, str], tz: ZoneInfo) -> Workbook:
    words, names = vocabulary()["export"], names_of(session)
    rows = [_row(doc, branches[doc.branch_id], names, words, tz)
            for doc in documents.of_campaign(session, campaign_id=record.id)]
    return workbook(words["documents"], ((words["documents_sheet"], row) for row in rows), empty=words["documents_sheet"])
