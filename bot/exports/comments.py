"""The comments sheet of `xianfeng export comments`: every 领导点评 written with /点评, branch by branch,
with who wrote it, for which task and when (a comment to 全部 is one row per branch, as it was posted)."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlmodel import Session

from bot.exports.book import in_branch_order, names_of, when, workbook
from bot.texts import vocabulary
from storage import comments
from storage.models import CampaignRecord


def comments_book(session: Session, record: CampaignRecord, branches: dict[int, str], tz: ZoneInfo) -> Workbook:
    words, names = vocabulary()["export"], names_of(session)
    rows = in_branch_order([branches[c.branch_id], c.task_title, names.get(c.userid, c.userid), c.userid, c.text,
                            when(c.written_at, tz)]
                           for c in comments.of_campaign(session, campaign_id=record.id))  # by time within a branch
    return workbook(words["comments"], ((words["comments_sheet"], row) for row in rows), empty=words["comments_sheet"])
