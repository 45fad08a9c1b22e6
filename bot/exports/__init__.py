"""`xianfeng export pledges|self-assessments|ratings|polls|documents|comments|ledger --campaign NAME
--out FILE.xlsx`: records for the 党建档案, one module per kind of sheet (records, results, documents,
comments, ledger), sharing book.py. `documents` also writes the files kept from /报送 into a folder
beside the workbook."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlalchemy import select
from sqlmodel import Session

from bot.exports.comments import comments_book
from bot.exports.documents import documents_book, files_folder
from bot.exports.ledger import ledger_book
from bot.exports.records import by_branch
from bot.exports.results import polls_book, ratings_book
from bot.texts import vocabulary
from storage import people
from storage.models import CampaignRecord

# What `xianfeng export` can write: each a workbook of (session, record, branch names, zone, where it goes).
BOOKS: dict[str, Callable[[Session, CampaignRecord, dict[int, str], ZoneInfo, Path], Workbook]] = {
    "pledges": lambda session, record, branches, tz, out: by_branch(session, "pledges", record, branches, tz),
    "self-assessments": lambda session, record, branches, tz, out: by_branch(session, "self-assessments", record,
                                                                             branches, tz),
    "ratings": lambda session, record, branches, tz, out: ratings_book(session, record, branches, tz),
    "polls": lambda session, record, branches, tz, out: polls_book(session, record, branches, tz),
    # the files the bot kept go into a folder beside the workbook
    "documents": lambda session, record, branches, tz, out: documents_book(session, record, branches, tz,
                                                                           files=files_folder(out)),
    "comments": lambda session, record, branches, tz, out: comments_book(session, record, branches, tz),
    "ledger": lambda session, record, branches, tz, out: ledger_book(session, record, branches, tz),
}


def export(session: Session, *, what: str, campaign: str, out: Path, tz: str = "Asia/Shanghai") -> int:
    """Write the workbook; returns the number of data rows, or -1 when there is no such campaign."""
    record = session.scalars(select(CampaignRecord).where(CampaignRecord.name == campaign)).first()
    if record is None:
        return -1
    unassigned = vocabulary()["export"]["unassigned"]  # what every table calls a row of no (known) branch
    branches = defaultdict(lambda: unassigned, {b.id: b.name for b in people.branches(session)})
    out.parent.mkdir(parents=True, exist_ok=True)
    book = BOOKS[what](session, record, branches, ZoneInfo(tz), out)
    book.save(out)
    return sum(sheet.max_row - 1 for sheet in book.worksheets)
