"""分类定级 proposals from what is stored: the running campaign's rules (Plan), every branch's inputs
read in a few set queries (Evidence), and the proposal recomputed and saved for branches whose
rating is not yet confirmed. The rules themselves are in bot/ratings.py."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from bot.campaigns import Rules
from bot.ratings import Inputs, Proposal, inputs_from, propose
from storage import campaigns, ratings
from storage.models import CampaignRecord, Poll, Rating, SelfAssessment


@dataclass(frozen=True)
class Plan:
    """The running campaign's rules for 分类定级 and the version a reader can trace them by."""

    record: CampaignRecord
    rules: Rules
    indicators: list[str]  # its 五星, or none

    @property
    def version(self) -> str:
        return f"{self.record.name[:55]}·{self.record.content_hash[:8]}"


def rating_plan(session: Session, *, today: date) -> Plan | None:
    """The first running campaign with a rating task."""
    found = campaigns.find_task(session, today=today, kind="rating")
    if found is None:
        return None
    content = found[0].content
    stars = content["standards"].get("stars")
    return Plan(found[0], Rules.model_validate(content.get("rules", {})),
                content["standard_sets"][stars]["items"] if stars else [])


@dataclass(frozen=True)
class Evidence:
    """The stored inputs of every branch in the campaign, read in a few set queries."""

    own: dict[int, SelfAssessment]
    stars: dict[int, SelfAssessment]
    polls: dict[int, Poll]
    closed: set[int]

    def inputs(self, bid: int, previous: dict) -> Inputs:
        poll = self.polls.get(bid)
        return inputs_from(branch_items=self.own[bid].items if bid in self.own else None,
                           star_items=self.stars[bid].items if bid in self.stars else None,
                           poll={"subject": poll.subject, "result": poll.result, "satisfied": poll.satisfied}
                           if poll else None, unpublished=bid in self.closed, previous=previous)


def _evidence(session: Session, plan: Plan) -> Evidence:
    cid = plan.record.id
    return Evidence(ratings.latest_assessments(session, campaign_id=cid, kind="branch"),
                    ratings.latest_assessments(session, campaign_id=cid, kind="stars"),
                    *ratings.latest_branch_polls(session, campaign_id=cid))


def current(session: Session, plan: Plan, branch_ids: list[int], *, userid: str, entered: dict | None = None,
            ) -> dict[int, tuple[Rating, Proposal, bool]]:
    """Each branch's rating row and proposal; unconfirmed ones are recomputed from today's inputs (and
    what the committee just entered) and saved. Confirmed ones stay as decided. The bool: changed."""
    evidence, found = _evidence(session, plan), {}
    for bid in branch_ids:
        rating, changed = ratings.locked(session, campaign_id=plan.record.id, branch_id=bid), False
        if rating.status != "confirmed":
            inputs = evidence.inputs(bid, previous={**rating.inputs, **(entered or {})})
            proposal = propose(inputs, plan.rules, plan.indicators)
            values = dict(inputs=inputs.to_json(), score=proposal.score, level=proposal.level,
                          stars=proposal.stars, red_flag=proposal.red_flag, rule_version=plan.version)
            changed = ratings.save_proposal(session, rating=rating, values=values, proposed_by=userid)
        found[bid] = (rating, propose(Inputs.from_json(rating.inputs), plan.rules, plan.indicators), changed)
    return found
