"""分类定级 proposals from what is stored: the rating round open today and its campaign's rules (Plan),
every branch's inputs read in a few set queries (Evidence), the proposal recomputed and saved for
branches whose rating in this round is not yet confirmed, and each branch's levels over the rounds
(History). The rules themselves are in bot/ratings.py."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from bot.campaigns import Rules, rules_of
from bot.ratings import History, Inputs, Proposal, propose
from storage import campaigns, ratings
from storage.models import CampaignRecord, CampaignTask, Poll, Rating, SelfAssessment


@dataclass(frozen=True)
class Plan:
    """The rating round open today (a `kind: rating` task), its campaign's rules for 分类定级 and the
    version a reader can trace them by."""

    record: CampaignRecord
    task: CampaignTask
    rules: Rules
    indicators: list[str]  # its 五星, or none

    @property
    def version(self) -> str:
        return f"{self.record.name[:55]}·{self.record.content_hash[:8]}"  # fits Rating.rule_version (64)


def rating_plan(session: Session, *, today: date) -> Plan | None:
    """The rating round the committee works on today: the one whose window holds today, or else one
    whose window has passed (within LATE_AFTER_END) with branches still to confirm, so a late round is
    finished and counted for its own task; once every round is confirmed, the latest (to revise it)."""
    found = campaigns.find_task(session, today=today, kind="rating", subject="committee")
    if found is None:
        return None
    record, task = found
    stars = record.content["standards"].get("stars")
    return Plan(record, task, rules_of(record), record.content["standard_sets"][stars]["items"] if stars else [])


@dataclass(frozen=True)
class Round:
    """A rating task of a running campaign and its phase's window, to say when /定级 can be used."""

    campaign: str
    title: str
    start: date
    end: date


def rating_rounds(session: Session, *, today: date) -> list[Round]:
    """Every rating round of the campaigns running today (none open today, when there is no Plan)."""
    rounds = []
    for record in campaigns.active_campaigns(session, today=today):
        for task in campaigns.tasks_of(session, campaign_ids=[record.id]):
            if task.kind == "rating" and task.branch_id is None:
                phase = record.content["phases"][task.phase_index]
                rounds.append(Round(record.name, task.title, date.fromisoformat(phase["start"]),
                                    date.fromisoformat(phase["end"])))
    return rounds


def histories(session: Session, plan: Plan, now: dict[int, Rating]) -> dict[int, History]:
    """Each branch's levels: its confirmed ones of the rounds before this one, then this round's row in
    `now` (branch → row, proposed or confirmed)."""
    earlier = ratings.earlier_confirmed(session, task=plan.task, branch_ids=list(now))
    return {bid: History.of([r.level for r in earlier[bid]] + [rating.level], plan.rules)
            for bid, rating in now.items()}


def _answers(assessment: SelfAssessment | None) -> dict[str, str]:
    """standard → answer; items without one (a 党性分析 is written, not rated) are left out."""
    return {item["standard"]: item["rating"] for item in assessment.items if item.get("rating")} if assessment else {}


@dataclass(frozen=True)
class Evidence:
    """The stored inputs of every branch in the campaign, read in a few set queries."""

    own: dict[int, SelfAssessment]  # latest 党组织自评
    stars: dict[int, SelfAssessment]  # latest 五星 self-assessment
    polls: dict[int, Poll]  # latest published branch poll
    closed: set[int]  # branches with a closed branch poll, published or not

    def inputs(self, bid: int, previous: dict) -> Inputs:
        """Today's inputs; 上级评定 and 表彰 are what the committee entered (`previous`), which only it changes."""
        poll = self.polls.get(bid)
        result = poll.result if poll else {}
        return Inputs(branch_ratings=_answers(self.own.get(bid)), star_ratings=_answers(self.stars.get(bid)),
                      poll="published" if poll else "unpublished" if bid in self.closed else "none",
                      poll_subject=poll.subject if poll else "", satisfaction=result.get("rate"),
                      participation=result.get("member_turnout"), formula=result.get("formula") or "",
                      superior=previous.get("superior"), honoured=previous.get("honoured"))


def _evidence(session: Session, plan: Plan) -> Evidence:
    cid = plan.record.id
    return Evidence(ratings.latest_assessments(session, campaign_id=cid, kind="branch"),
                    ratings.latest_assessments(session, campaign_id=cid, kind="stars"),
                    *ratings.latest_branch_polls(session, campaign_id=cid))


@dataclass(frozen=True)
class Current:
    rating: Rating
    inputs: Inputs
    proposal: Proposal
    changed: bool  # a new proposal was saved over the row just now


def current(session: Session, plan: Plan, branch_ids: list[int], *, userid: str, entered: dict | None = None,
            ) -> dict[int, Current]:
    """Each branch's rating row (locked) and proposal. Unconfirmed ones are recomputed from today's inputs
    (and what the committee just entered) and saved when that changes them; confirmed ones stay as decided."""
    evidence = _evidence(session, plan)
    rows = ratings.locked(session, task=plan.task, branch_ids=branch_ids)
    return {bid: _current(session, plan, rows[bid], evidence, userid, entered or {}) for bid in branch_ids}


def _current(session: Session, plan: Plan, rating: Rating, evidence: Evidence, userid: str, entered: dict,
             ) -> Current:
    if rating.status == "confirmed":
        inputs = Inputs.from_json(rating.inputs)
        return Current(rating, inputs, propose(inputs, plan.rules, plan.indicators), changed=False)
    inputs = evidence.inputs(rating.branch_id, previous={**rating.inputs, **entered})
    proposal = propose(inputs, plan.rules, plan.indicators)
    values = dict(inputs=inputs.to_json(), score=proposal.score, level=proposal.level, stars=proposal.stars,
                  red_flag=proposal.red_flag, rule_version=plan.version)
    return Current(rating, inputs, proposal, ratings.save_proposal(session, rating=rating, values=values,
                                                                    proposed_by=userid))
