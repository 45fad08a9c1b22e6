"""分类定级 proposals from what is stored: the rating round open today and its campaign's rules (Plan),
every branch's inputs read in a few set queries (Evidence), the proposal recomputed and saved for
branches whose rating in this round is not yet confirmed, and each branch's levels over the rounds
(History). The rules themselves are in bot/ratings.py."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from bot.campaigns import Rules, rules_of
from bot.ratings import History, Inputs, Proposal, propose
from storage import campaigns, participation, ratings
from storage.models import BranchParticipation, CampaignRecord, CampaignTask, Person, Poll, Rating, SelfAssessment


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
    """The committee's rating round today, as storage.campaigns.find_task picks it for the committee
    (a round still to finish after its window included)."""
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


def _answers(assessment: SelfAssessment | None, key: str = "rating") -> dict[str, str]:
    """standard → answer (or, with key "evidence", the evidence given for it); items without one (a
    党性分析 is written, not rated) are left out."""
    return {item["standard"]: item[key] for item in assessment.items if item.get(key)} if assessment else {}


def _published(poll: Poll | None, closed: bool) -> str:
    return "published" if poll else "unpublished" if closed else "none"


def _masses(poll: Poll | None, closed: bool) -> tuple[str, float | None]:
    """群众's own 满意率 in the branch poll: the whole rate when only 群众 voted, their group's when the poll
    counted groups apart (and published it), else none ("none": the poll did not count them apart)."""
    if poll is None:
        return ("unpublished" if closed else "none"), None
    if poll.voters == "masses":
        return "published", poll.result.get("rate")
    group = (poll.result.get("groups") or {}).get("masses")
    if group is None:
        return "none", None
    return ("published", group.get("rate")) if group.get("published") else ("unpublished", None)


def _entry(row: BranchParticipation, names: dict[str, str]) -> dict[str, Any]:
    """The entered 党员参与率 as the rating keeps and shows it: from what, by whom, on which day."""
    return {"attended": row.attended, "total": row.total, "note": row.note or "",
            "name": names.get(row.entered_by, row.entered_by), "on": row.entered_on.isoformat()}


@dataclass(frozen=True)
class Evidence:
    """The stored inputs of every branch in the campaign, read in a few set queries."""

    own: dict[int, SelfAssessment]  # latest 党组织自评
    stars: dict[int, SelfAssessment]  # latest 五星 self-assessment
    polls: dict[int, Poll]  # latest published branch poll
    closed: set[int]  # branches with a closed branch poll, published or not
    leadership: dict[int, Poll] = field(default_factory=dict)  # latest published poll rating the 领导班子
    leadership_closed: set[int] = field(default_factory=set)
    participation: dict[int, dict[str, Any]] = field(default_factory=dict)  # entered 党员参与率: rate and entry

    def inputs(self, bid: int, previous: dict) -> Inputs:
        """Today's inputs; 上级评定, 表彰 and the star decisions are what the committee entered (`previous`),
        which only it changes."""
        poll = self.polls.get(bid)
        result = poll.result if poll else {}
        masses_poll, masses_rate = _masses(poll, bid in self.closed)
        leader = self.leadership.get(bid)
        entered = self.participation.get(bid) or {}
        return Inputs(branch_ratings=_answers(self.own.get(bid)), star_ratings=_answers(self.stars.get(bid)),
                      star_evidence=_answers(self.stars.get(bid), "evidence"),
                      poll=_published(poll, bid in self.closed), poll_subject=poll.subject if poll else "",
                      satisfaction=result.get("rate"), masses_poll=masses_poll, masses_satisfaction=masses_rate,
                      participation=entered.get("rate"), participation_entry=entered.get("entry"),
                      formula=result.get("formula") or "",
                      leadership_poll=_published(leader, bid in self.leadership_closed),
                      leadership_subject=leader.subject if leader else "",
                      leadership_satisfaction=leader.result.get("rate") if leader else None,
                      superior=previous.get("superior"), honoured=previous.get("honoured"),
                      star_decisions=previous.get("star_decisions") or {})


def _evidence(session: Session, plan: Plan) -> Evidence:
    cid = plan.record.id
    latest = participation.latest(session, campaign_id=cid)
    by = {row.entered_by for row in latest.values()}
    names = {p.userid: p.name for p in session.scalars(select(Person).where(Person.userid.in_(by)))} if by else {}
    entered = {bid: {"rate": row.rate, "entry": _entry(row, names)} for bid, row in latest.items()}
    leadership, leadership_closed = ratings.latest_branch_polls(session, campaign_id=cid, rates="leadership")
    return Evidence(ratings.latest_assessments(session, campaign_id=cid, kind="branch"),
                    ratings.latest_assessments(session, campaign_id=cid, kind="stars"),
                    *ratings.latest_branch_polls(session, campaign_id=cid), leadership=leadership,
                    leadership_closed=leadership_closed, participation=entered)


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
