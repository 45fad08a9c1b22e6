"""`xianfeng export pledges|self-assessments|ratings|polls|documents|comments --campaign NAME --out FILE.xlsx`:
records for the 党建档案, one module per kind of sheet (records, results, documents), sharing book.py."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session

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
    book = TABLES[what](session, record, branches, zone) if what in TABLES \
        else by_branch(session, what, record, branches, zone)
    out.parent.mkdir(parents=True, exist_ok=True)
    book.save(out)
    return sum(sheet.max_row - 1 for sheet in book.worksheets)
