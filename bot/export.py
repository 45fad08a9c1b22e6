"""`xianfeng export pledges|self-assessments|ratings|polls --campaign NAME --out FILE.xlsx`: records for
the 党建档案. Pledges: each person's latest version; self-assessments: every one submitted; both one
sheet per branch. Ratings (one row per branch) and polls (one row per poll) are one sheet each."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Iterable

from openpyxl import Workbook
from sqlalchemy import select
from sqlmodel import Session

from bot.texts import vocabulary
from storage.models import Branch, CampaignRecord, Person, Pledge, SelfAssessment


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def _pledge_rows(session: Session, campaign_id: int) -> Iterable[tuple[int | None, list]]:
    latest: dict[str, Pledge] = {}
    for pledge in session.scalars(select(Pledge).where(Pledge.campaign_id == campaign_id).order_by(Pledge.version)):
        latest[pledge.userid] = pledge
    for pledge in latest.values():
        person = session.get(Person, pledge.userid)
        for item in pledge.items:
            yield pledge.branch_id, [person.name, person.userid, item["standard"], item["what"], item["how"],
                                     item["by"], pledge.version, _when(pledge.submitted_at)]


def _assessment_rows(session: Session, campaign_id: int) -> Iterable[tuple[int | None, list]]:
    stmt = select(SelfAssessment).where(SelfAssessment.campaign_id == campaign_id).order_by(SelfAssessment.id)
    for assessment in session.scalars(stmt):
        person = session.get(Person, assessment.userid)
        words = vocabulary()["forms"]
        kind = words[{"branch": "branch_assessment", "stars": "stars_assessment"}.get(assessment.kind,
                                                                                     "personal_assessment")]
        for item in assessment.items:
            yield assessment.branch_id, [person.name, person.userid, kind, item["standard"], item["rating"],
                                         item["gap"], item["measure"], _when(assessment.submitted_at)]


def export(session: Session, *, what: str, campaign: str, out: Path) -> int:
    """Write the workbook; returns the number of data rows, or -1 when there is no such campaign."""
    record = session.scalars(select(CampaignRecord).where(CampaignRecord.name == campaign)).first()
    if record is None:
        return -1
    from bot.export_results import TABLES  # they use _when from here

    branches = {b.id: b.name for b in session.scalars(select(Branch))}
    book = TABLES[what](session, record, branches) if what in TABLES else _by_branch(session, what, record, branches)
    out.parent.mkdir(parents=True, exist_ok=True)
    book.save(out)
    return sum(sheet.max_row - 1 for sheet in book.worksheets)


def _by_branch(session: Session, what: str, record: CampaignRecord, branches: dict[int, str]) -> Workbook:
    rows = _pledge_rows if what == "pledges" else _assessment_rows
    words = vocabulary()["export"]
    book = Workbook()
    book.remove(book.active)
    for branch_id, row in rows(session, record.id):
        title = branches.get(branch_id, words["unassigned"])[:31]  # Excel's limit for sheet names
        if title not in book.sheetnames:
            book.create_sheet(title).append(words[what])
        book[title].append(row)
    if not book.sheetnames:
        book.create_sheet(words["empty"]).append(words[what])
    return book
