"""The progress sheet of `xianfeng export progress`: every 践诺 report of the campaign (a member's on
their pledge, a branch's with /践诺 支部), one row per photo it carried (one row when none), with what
became of each photo. The photos the bot kept (bot/document_files.py) are written into a folder beside
the workbook (践诺.xlsx → 践诺_文件/), each named by its report's number, its place among the report's
photos and its own name; the sheet names each one's path, size and sha256, as the documents sheet does."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlmodel import Session

from bot.document_files import safe_name
from bot.exports.book import in_branch_order, names_of, when, workbook, write_beside
from bot.texts import vocabulary
from storage import progress_photos
from storage.models import CampaignRecord, Pledge, PledgeProgress


def _rows(session: Session, record: CampaignRecord, branches: dict[int, str], tz: ZoneInfo,
          files: Path | None) -> Iterable[list[Any]]:
    words, names = vocabulary()["export"], names_of(session)
    reports = progress_photos.of_campaign(session, campaign_id=record.id)
    photos = progress_photos.info(session, progress_ids=[report.id for report, _ in reports])
    for report, pledge in reports:
        yield from (_row(report, pledge, branches, names, words, tz, photo, _write(session, report, photo, files))
                    for photo in photos.get(report.id) or [None])


def _row(report: PledgeProgress, pledge: Pledge, branches: dict[int, str], names: dict[str, str], words: dict,
         tz: ZoneInfo, photo: tuple | None, written: str | None) -> list[Any]:
    item = pledge.items[report.item] if report.item < len(pledge.items) else {}
    reporter = report.userid or pledge.userid
    _, seq, status, _, _, size, digest = photo or (None,) * 7
    return [branches[pledge.branch_id], names.get(reporter, reporter), reporter,
            words["progress_pledges"].get(pledge.kind, pledge.kind), item.get("standard"), item.get("what"),
            report.text or None, f"{report.percent}%" if report.percent is not None else None,
            when(report.reported_at, tz), seq, words["file_status"].get(status, status) if status else None,
            written, size if written else None, digest if written else None, report.id]


def _write(session: Session, report: PledgeProgress, photo: tuple | None, files: Path | None) -> str | None:
    """The kept photo into `files` (one at a time: each up to 20 MB); its path relative to the workbook."""
    if files is None or photo is None or photo[2] != "kept":
        return None
    photo_id, seq, _, filename, *_ = photo
    return write_beside(files, f"{report.id}-{seq}-{safe_name(filename) or photo_id}",
                        progress_photos.data(session, photo_id=photo_id) or b"")


def progress_book(session: Session, record: CampaignRecord, branches: dict[int, str], tz: ZoneInfo,
                  files: Path | None = None) -> Workbook:
    """`files`: the folder to write the kept photos into (none written without it)."""
    words = vocabulary()["export"]
    rows = in_branch_order(_rows(session, record, branches, tz, files))
    return workbook(words["progress"], ((words["progress_sheet"], row) for row in rows), empty=words["progress_sheet"])
