"""The documents sheet of `xianfeng export documents`: every submission sent with /报送, with what it
was (the text itself, or the image's link and the MediaId of an image or a file), the committee's
decision, and what became of its file. The files the bot kept (bot/document_files.py) are written
into a folder beside the workbook (报送材料.xlsx → 报送材料_文件/), each named by its submission's
number and its own name; the sheet names each one's path, size and sha256, so the 党建档案 can check
that a file is the one that was sent."""
from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlmodel import Session

from bot.document_files import safe_name
from bot.exports.book import in_branch_order, names_of, when, workbook, write_beside
from bot.texts import vocabulary
from storage import documents
from storage.models import CampaignRecord, DocumentSubmission


def files_folder(out: Path) -> Path:
    """Where the files of the workbook `out` go: a folder beside it, named after it."""
    return out.with_name(out.stem + vocabulary()["export"]["documents_folder_suffix"])


def _row(doc: DocumentSubmission, branch: str, names: dict[str, str], words: dict, tz: ZoneInfo,
         written: tuple[str, int, str] | None) -> list[Any]:
    kinds, status = vocabulary()["documents"]["kinds"], words["document_status"]
    path, size, digest = written or (None, None, None)
    return [branch, doc.task_title, names.get(doc.userid, doc.userid), doc.userid, kinds.get(doc.kind, doc.kind),
            doc.text, doc.pic_url, doc.file_name, doc.media_id, when(doc.submitted_at, tz),
            status.get(doc.status, doc.status), names.get(doc.reviewer, doc.reviewer) if doc.reviewer else None,
            doc.comment, when(doc.reviewed_at, tz) if doc.reviewed_at else None, doc.id,
            words["file_status"].get(doc.file_status, doc.file_status) if doc.file_status else None,
            path, size, digest]


def write_files(session: Session, docs: list[DocumentSubmission], folder: Path) -> dict[int, tuple[str, int, str]]:
    """Each kept file into `folder`, one at a time (each up to 20 MB); submission id -> (its path
    relative to the workbook, size, sha256)."""
    info = documents.file_info(session, submission_ids=[d.id for d in docs])
    written = {}
    for doc in docs:
        if doc.id not in info:
            continue
        name, _, size, digest = info[doc.id]
        path = write_beside(folder, f"{doc.id}-{safe_name(name) or doc.id}",
                            documents.file_data(session, submission_id=doc.id) or b"")
        written[doc.id] = (path, size, digest)
    return written


def documents_book(session: Session, record: CampaignRecord, branches: dict[int, str], tz: ZoneInfo,
                   files: Path | None = None) -> Workbook:
    """`files`: the folder to write the kept files into (none written without it)."""
    words, names = vocabulary()["export"], names_of(session)
    docs = documents.of_campaign(session, campaign_id=record.id)
    written = write_files(session, docs, files) if files is not None else {}
    rows = in_branch_order(_row(doc, branches[doc.branch_id], names, words, tz, written.get(doc.id)) for doc in docs)
    return workbook(words["documents"], ((words["documents_sheet"], row) for row in rows), empty=words["documents_sheet"])
