"""领导点评 (`kind: comment` tasks): a committee member's comment on a branch, kept with who wrote it,
for which task and when. The task belongs to the committee as a whole, like a rating round: it is
done once every branch has a comment for it (the plan: "每半年对基层党组织和党员……进行一次点评")."""
from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from storage import campaigns
from storage.models import CampaignTask, LeaderComment, Person

COMMITTEE = "committee"  # the subject of a committee task in task_done (bot.scheduler.obligations)


def add_comment(session: Session, *, task: CampaignTask, branch_id: int, person: Person, text: str,
                at: float) -> LeaderComment:
    row = LeaderComment(campaign_id=task.campaign_id, task_id=task.id, task_title=task.title, branch_id=branch_id,
                        userid=person.userid, text=text, written_at=at)
    session.add(row)
    session.flush()  # its id keys the message that posts it
    return row


def commented_branches(session: Session, *, task_id: int) -> set[int]:
    """The branches that have a comment for this task."""
    return set(session.scalars(select(LeaderComment.branch_id).where(LeaderComment.task_id == task_id)))


def credit_committee(session: Session, *, task: CampaignTask, branch_ids: list[int]) -> bool:
    """Mark the task done for the committee when every one of these branches (all of them: the task
    asks for every branch) has a comment for it; whether it is done now."""
    if set(branch_ids) - commented_branches(session, task_id=task.id):
        return False
    campaigns.mark_done(session, task_id=task.id, subject=COMMITTEE)
    return True


def of_campaign(session: Session, *, campaign_id: int) -> list[LeaderComment]:
    """Every comment of a campaign, by time (for the export)."""
    stmt = select(LeaderComment).where(LeaderComment.campaign_id == campaign_id) \
        .order_by(LeaderComment.written_at, LeaderComment.id)
    return list(session.scalars(stmt))
