"""分类定级 rows and their inputs: set queries over a whole campaign (one query per kind of input,
however many branches), the proposal's upsert and the confirmation. A rating belongs to one round
(one `kind: rating` task of its campaign); earlier rounds stay, so a change of level can be shown.
Every function takes the session of the caller's transaction."""
from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_, select
from sqlmodel import Session

from storage.db import insert_new
from storage.models import CampaignTask, Poll, Rating, SelfAssessment


def latest_assessments(session: Session, *, campaign_id: int, kind: str) -> dict[int, SelfAssessment]:
    """Each branch's latest self-assessment of this kind ("branch": 党组织自评, "stars": 五星)."""
    stmt = select(SelfAssessment).where(SelfAssessment.campaign_id == campaign_id, SelfAssessment.kind == kind,
                                        SelfAssessment.branch_id.is_not(None))
    found: dict[int, SelfAssessment] = {}
    for assessment in session.scalars(stmt.order_by(SelfAssessment.submitted_at, SelfAssessment.id)):
        found[assessment.branch_id] = assessment  # later rows win
    return found


def latest_branch_polls(session: Session, *, campaign_id: int, rates: str = "branch",
                        ) -> tuple[dict[int, Poll], set[int]]:
    """Each branch's latest closed and published poll rating the branch (or, with rates "leadership",
    its 领导班子), and the branches that have closed ones (so "under the ballot threshold" can be told
    apart from "no poll yet")."""
    stmt = select(Poll).where(Poll.campaign_id == campaign_id, Poll.rates == rates, Poll.status == "closed")
    published: dict[int, Poll] = {}
    closed: set[int] = set()
    for poll in session.scalars(stmt.order_by(Poll.closed_at, Poll.id)):
        closed.add(poll.branch_id)
        if (poll.result or {}).get("published"):
            published[poll.branch_id] = poll
    return published, closed


def ratings_of(session: Session, *, task_id: int) -> dict[int, Rating]:
    """One round's ratings, by branch."""
    stmt = select(Rating).where(Rating.task_id == task_id)
    return {rating.branch_id: rating for rating in session.scalars(stmt)}


def earlier_confirmed(session: Session, *, task: CampaignTask, branch_ids: list[int]) -> dict[int, list[Rating]]:
    """Each branch's confirmed ratings of the rounds before `task` in its campaign, oldest round first
    (rounds in the order of their due dates)."""
    before = or_(CampaignTask.due < task.due, and_(CampaignTask.due == task.due, CampaignTask.id < task.id))
    stmt = (select(Rating).join(CampaignTask, CampaignTask.id == Rating.task_id)
            .where(Rating.campaign_id == task.campaign_id, Rating.branch_id.in_(branch_ids),
                   Rating.status == "confirmed", before)
            .order_by(CampaignTask.due, CampaignTask.id))
    found: dict[int, list[Rating]] = {bid: [] for bid in branch_ids}
    for rating in session.scalars(stmt):
        found[rating.branch_id].append(rating)
    return found


def of_campaign(session: Session, *, campaign_id: int) -> list[tuple[Rating, CampaignTask]]:
    """Every round's ratings of a campaign with their round, by branch and then round."""
    stmt = (select(Rating, CampaignTask).join(CampaignTask, CampaignTask.id == Rating.task_id)
            .where(Rating.campaign_id == campaign_id)
            .order_by(Rating.branch_id, CampaignTask.due, CampaignTask.id))
    return [(rating, task) for rating, task in session.execute(stmt)]


def locked(session: Session, *, task: CampaignTask, branch_ids: list[int]) -> dict[int, Rating]:
    """The branches' rating rows in this round, created if need be and locked (PostgreSQL) for this
    transaction, so two committee members confirming and re-proposing at once are taken one after the
    other. One statement for all of them, in branch order so two lists never wait on each other in a circle."""
    if not branch_ids:
        return {}
    new = [dict(campaign_id=task.campaign_id, task_id=task.id, branch_id=bid, inputs={}, stars=[])
           for bid in sorted(set(branch_ids))]
    session.execute(insert_new(session, Rating, "task_id", "branch_id").values(new))
    stmt = select(Rating).where(Rating.task_id == task.id, Rating.branch_id.in_(branch_ids))
    return {r.branch_id: r for r in session.scalars(stmt.order_by(Rating.branch_id).with_for_update())}


def save_proposal(session: Session, *, rating: Rating, values: dict[str, Any], proposed_by: str) -> bool:
    """Write a proposal (inputs, score, level, stars, red_flag, rule_version) over an unconfirmed row.
    Returns whether anything changed."""
    if all(getattr(rating, key) == value for key, value in values.items()):
        return False
    for key, value in values.items():
        setattr(rating, key, value)
    rating.proposed_by = proposed_by
    session.add(rating)
    return True


def confirm(session: Session, *, rating: Rating, userid: str, at: float) -> None:
    rating.status, rating.confirmed_by, rating.confirmed_at = "confirmed", userid, at
    session.add(rating)


def reopen(session: Session, *, rating: Rating) -> None:
    """A confirmed rating becomes a proposal again (the committee said so explicitly)."""
    rating.status, rating.confirmed_by, rating.confirmed_at = "proposed", None, None
    session.add(rating)
