"""The pledges and self-assessments sheets of `xianfeng export`: each person's latest pledge, every
self-assessment submitted, one sheet per branch."""
from __future__ import annotations

from typing import Iterable
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlalchemy import select
from sqlmodel import Session

from bot.exports.book import in_branch_order, names_of, when, workbook
from bot.texts import vocabulary
from storage.models import CampaignRecord, SelfAssessment
from storage.pledges import latest_pledges


def _pledge_rows(session: Session, campaign_id: int, tz: ZoneInfo) -> Iterable[tuple[int | None, list]]:
    """Each member's latest pledge, then each branch's (a secretary's own pledge and the branch's are two)."""
    names = names_of(session)
    for kind in ("member", "branch"):
        for pledge in latest_pledges(session, campaign_ids=[campaign_id], kind=kind):
            for item in pledge.items:
                yield pledge.branch_id, [names[pledge.userid], pledge.userid, item["standard"], item["what"],
                                         item["how"], item["by"], pledge.version, when(pledge.submitted_at, tz)]


def _assessment_rows(session: Session, campaign_id: int, tz: ZoneInfo) -> Iterable[tuple[int | None, list]]:
    names, kinds = names_of(session), vocabulary()["forms"]["assessment_kinds"]
    stmt = select(SelfAssessment).where(SelfAssessment.campaign_id == campaign_id).order_by(SelfAssessment.id)
    for assessment in session.scalars(stmt):
        for item in assessment.items:
            yield assessment.branch_id, [names[assessment.userid], assessment.userid, kinds[assessment.kind],
                                         item["standard"], item["rating"], item.get("gap"), item.get("measure"),
                                         when(assessment.submitted_at, tz), item.get("evidence")]


def by_branch(session: Session, what: str, record: CampaignRecord, branches: dict[int, str],
               tz: ZoneInfo) -> Workbook:
    rows = _pledge_rows if what == "pledges" else _assessment_rows
    words = vocabulary()["export"]
    sheets = in_branch_order((branches[bid], row) for bid, row in rows(session, record.id, tz))  # a sheet per branch
    return workbook(words[what], sheets, empty=words["empty"])
