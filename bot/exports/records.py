"""`xianfeng export pledges|self-assessments|ratings|polls --campaign NAME --out FILE.xlsx`: records for
the 党建档案. Pledges: each person's latest version; self-assessments: every one submitted; both one
sheet per branch. Ratings (one row per branch) and polls (one row per poll) are one sheet each."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Iterable
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlalchemy import select
from sqlmodel import Session

from bot.texts import vocabulary
from storage import people
from storage.models import CampaignRecord, Person, SelfAssessment
from storage.pledges import latest_pledges


def _when(ts: float, tz: ZoneInfo) -> str:
    """A stored Unix time as the configured time zone reads it (invariant 7), not the server's."""
    return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M")


def workbook(header: list[str], rows: Iterable[tuple[str, list]], *, empty: str) -> Workbook:
    """A sheet per title, each headed by `header` (titles cut to Excel's 31 characters); with no rows,
    one sheet titled `empty`, so the file always says what it would hold."""
    book = Workbook()
    book.remove(book.active)
    for title, row in rows:
        if title[:31] not in book.sheetnames:
            book.create_sheet(title[:31]).append(header)
        book[title[:31]].append(row)
    if not book.sheetnames:
        book.create_sheet(empty[:31]).append(header)
    return book


def _pledge_rows(session: Session, campaign_id: int, tz: ZoneInfo) -> Iterable[tuple[int | None, list]]:
    """Each member's latest pledge, then each branch's (a secretary's own pledge and the branch's are two)."""
    names = _names(session)
    for kind in ("member", "branch"):
        for pledge in latest_pledges(session, campaign_ids=[campaign_id], kind=kind):
            for item in pledge.items:
                yield pledge.branch_id, [names[pledge.userid], pledge.userid, item["standard"], item["what"],
                                         item["how"], item["by"], pledge.version, _when(pledge.submitted_at, tz)]


def _assessment_rows(session: Session, campaign_id: int, tz: ZoneInfo) -> Iterable[tuple[int | None, list]]:
    names, kinds = _names(session), vocabulary()["forms"]["assessment_kinds"]
    stmt = select(SelfAssessment).where(SelfAssessment.campaign_id == campaign_id).order_by(SelfAssessment.id)
    for assessment in session.scalars(stmt):
        for item in assessment.items:
            yield assessment.branch_id, [names[assessment.userid], assessment.userid, kinds[assessment.kind],
                                         item["standard"], item["rating"], item["gap"], item["measure"],
                                         _when(assessment.submitted_at, tz)]


def _names(session: Session) -> dict[str, str]:
    """Everyone's name in one query, rather than one query per row's author."""
    return dict(session.execute(select(Person.userid, Person.name)).all())


def export(session: Session, *, what: str, campaign: str, out: Path, tz: str = "Asia/Shanghai") -> int:
    """Write the workbook; returns the number of data rows, or -1 when there is no such campaign."""
    record = session.scalars(select(CampaignRecord).where(CampaignRecord.name == campaign)).first()
    if record is None:
        return -1
    from bot.export_results import TABLES  # not at the top: it imports the helpers above

    unassigned = vocabulary()["export"]["unassigned"]  # what every table calls a row of no (known) branch
    branches = defaultdict(lambda: unassigned, {b.id: b.name for b in people.branches(session)})
    zone = ZoneInfo(tz)
    book = TABLES[what](session, record, branches, zone) if what in TABLES \
        else _by_branch(session, what, record, branches, zone)
    out.parent.mkdir(parents=True, exist_ok=True)
    book.save(out)
    return sum(sheet.max_row - 1 for sheet in book.worksheets)


def _by_branch(session: Session, what: str, record: CampaignRecord, branches: dict[int, str],
               tz: ZoneInfo) -> Workbook:
    rows = _pledge_rows if what == "pledges" else _assessment_rows
    words = vocabulary()["export"]
    return workbook(words[what], ((branches[bid], row) for bid, row in rows(session, record.id, tz)), empty=words["empty"])
