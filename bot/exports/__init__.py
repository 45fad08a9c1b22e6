"""`xianfeng export pledges|self-assessments|ratings|polls|documents|comments|ledger --campaign NAME
--out FILE.xlsx`: records for the 党建档案, one module per kind of sheet (records, results, documents,
comments, ledger), sharing book.py. `documents` also writes the files kept from /报送 into a folder
beside the workbook."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session

from bot.exports.documents import documents_book, files_folder
from bot.exports.ledger import ledger_book
from bot.exports.records import by_branch
from bot.exports.results import TABLES
from bot.texts import vocabulary
from storage import people
from storage.models import CampaignRecord


def export(session: Session, *, what: str, campaign: str, out: Path, tz: str = "Asia/Shanghai") -> int:
    """Write the workbook; returns the number of data rows, or -1 when there is no such campaign."""
    record = session.scalars(select(CampaignRecord).where(CampaignRecord.name == campaign)).first()
    if record is None:
        return -1
    unassigned = vocabulary()["export"]["unassigned"]  # what every table calls a row of no (known) branch
    branches = defaultdict(lambda: unassigned, {b.id: b.name for b in people.branches(session)})
    zone = ZoneInfo(tz)
    out.parent.mkdir(parents=True, exist_ok=True)
    if what == "documents":  # the files the bot kept go into a folder beside the workbook
        book = documents_book(session, record, branches, zone, files=files_folder(out))
    else:
        tables = {**TABLES, "ledger": ledger_book}
        book = tables[what](session, record, branches, zone) if what in tables \
            else by_branch(session, what, record, branches, zone)
    book.save(out)
    return sum(sheet.max_row - 1 for sheet in book.worksheets)
