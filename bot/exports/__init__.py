"""`xianfeng export pledges|self-assessments|ratings|polls|documents|progress|comments|ledger --campaign
NAME --out FILE.xlsx`: records for the 党建档案, one module per kind of sheet (records, results,
documents, progress, comments, ledger), sharing book.py. `documents` also writes the files kept from
/报送 into a folder beside the workbook, `progress` the photos kept from /践诺."""
from __future__ import annotations

import secrets
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
from bot.exports.progress import progress_book
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
    "progress": lambda session, record, branches, tz, out: progress_book(session, record, branches, tz,
                                                                         files=files_folder(out)),
    "comments": lambda session, record, branches, tz, out: comments_book(session, record, branches, tz),
    "ledger": lambda session, record, branches, tz, out: ledger_book(session, record, branches, tz),
}


def export(session: Session, *, what: str, campaign: str, out: Path, tz: str = "Asia/Shanghai",
           branch_id: int | None = None) -> int:
    """Write the workbook; returns the number of data rows, or -1 when there is no such campaign.
    With `branch_id`, only that branch's rows (a secretary's download in the console)."""
    record = session.scalars(select(CampaignRecord).where(CampaignRecord.name == campaign)).first()
    if record is None:
        return -1
    unassigned = vocabulary()["export"]["unassigned"]  # what every table calls a row of no (known) branch
    names = {b.id: b.name for b in people.branches(session)}
    # One branch only: any other branch is labelled with a word no branch is called (the title of a
    # by-branch sheet that is then left out), and a table keeps the rows whose branch is this one.
    other = f"~{secrets.token_hex(8)}" if branch_id is not None else None
    branches = defaultdict(lambda: other or unassigned, names if other is None else {branch_id: names.get(branch_id)})
    out.parent.mkdir(parents=True, exist_ok=True)
    book = BOOKS[what](session, record, branches, ZoneInfo(tz), out)
    if other is not None:
        book = _branch_only(book, names.get(branch_id, ""), other, files_folder(out))
    book.save(out)
    return sum(sheet.max_row - 1 for sheet in book.worksheets)


def _branch_only(book: Workbook, name: str, other: str, files: Path) -> Workbook:
    """One branch's part, in a new workbook (deleting rows one by one would move every row below each
    time): its own by-branch sheet whole, no other branch's, and of a table (branch in its first
    column) its rows only; and only the kept files a remaining row names."""
    kept = Workbook()
    kept.remove(kept.active)
    header: tuple = ()
    for sheet in book.worksheets:
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, ())
        if sheet.title == other[:31]:
            continue
        target = kept.create_sheet(sheet.title)
        target.append(header)
        whole = sheet.title == name[:31]
        for row in rows:
            if whole or (row and row[0] == name):
                target.append(row)
    if not kept.worksheets:
        kept.create_sheet(vocabulary()["export"]["empty"]).append(header)
    named = {cell for sheet in kept.worksheets for row in sheet.iter_rows(min_row=2, values_only=True) for cell in row}
    for path in sorted(files.glob("*")) if files.exists() else []:
        if f"{files.name}/{path.name}" not in named:
            path.unlink()
    return kept
