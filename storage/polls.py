"""Polls: eligibility and participation (poll_voter) apart from ballots (ballot), and nothing that
joins them. Every function takes the session of the caller's transaction."""
from __future__ import annotations

import secrets
from datetime import date
from typing import Iterable

from sqlalchemy import delete, func, insert, select, text, update
from sqlmodel import Session

from storage.models import Ballot, Person, Poll, PollComment, PollVoter, Role

VOTER_ROLES = {"members": {Role.member, Role.secretary}, "masses": {Role.masses},
               "both": {Role.member, Role.secretary, Role.masses}}
MEMBER_ROLES = {Role.member.value, Role.secretary.value}


def eligible(session: Session, *, branch_id: int, voters: str, exclude: str | None = None) -> list[str]:
    roles = [r.value for r in VOTER_ROLES[voters]]
    stmt = select(Person.userid).where(Person.branch_id == branch_id, Person.role.in_(roles))
    return [u for u in session.scalars(stmt.order_by(Person.userid)) if u != exclude]


def create(session: Session, *, poll: Poll, voters: list[str]) -> Poll:
    session.add(poll)
    session.flush()
    if voters:
        session.execute(insert(PollVoter), [{"poll_id": poll.id, "userid": u, "voted": False} for u in voters])
    return poll


def lock(session: Session, *, poll_id: int, share: bool) -> Poll | None:
    """The poll row, locked: shared by votes (they run side by side), exclusive for closing, so a
    close waits for votes in flight and no vote lands after the count (PostgreSQL; SQLite's write
    transactions are serial anyway)."""
    stmt = select(Poll).where(Poll.id == poll_id).with_for_update(read=share)
    return session.scalars(stmt).first()


def claim_vote(session: Session, *, poll_id: int, userid: str) -> str:
    """Mark this person as having voted: "ok", or "voted" (already), or "ineligible"."""
    marked = session.execute(update(PollVoter).where(PollVoter.poll_id == poll_id, PollVoter.userid == userid,
                                                     PollVoter.voted.is_(False)).values(voted=True))
    if marked.rowcount == 1:
        return "ok"
    return "voted" if session.get(PollVoter, (poll_id, userid)) else "ineligible"


def add_ballot(session: Session, *, poll_id: int, choice: str, comment: str | None = None,
               voter_group: str | None = None) -> None:
    """voter_group ("member" or "masses", never who) only for a poll that counts 群众 apart. A comment
    goes to poll_comment, apart from the ballot (issue 18: ballot and comment in one row let a lone
    commenter's words tell their choice)."""
    session.execute(insert(Ballot).values(id=secrets.token_hex(16), poll_id=poll_id, choice=choice,
                                          voter_group=voter_group))
    if comment:
        session.execute(insert(PollComment).values(id=secrets.token_hex(16), poll_id=poll_id, text=comment))


def counts(session: Session, *, poll_id: int) -> dict[str, int]:
    stmt = select(Ballot.choice, func.count()).where(Ballot.poll_id == poll_id).group_by(Ballot.choice)
    return dict(session.execute(stmt).all())


def group_counts(session: Session, *, poll_id: int) -> dict[str, dict[str, int]]:
    """Votes per choice in each voter group ("member", "masses"); ballots without a group are left out."""
    stmt = (select(Ballot.voter_group, Ballot.choice, func.count())
            .where(Ballot.poll_id == poll_id, Ballot.voter_group.is_not(None))
            .group_by(Ballot.voter_group, Ballot.choice))
    found: dict[str, dict[str, int]] = {}
    for group, choice, n in session.execute(stmt):
        found.setdefault(group, {})[choice] = n
    return found


def comments(session: Session, *, poll_id: int) -> list[str]:
    """The poll's comments in a random order (published so: neither vote order nor an order of its own)."""
    found = list(session.scalars(select(PollComment.text).where(PollComment.poll_id == poll_id)))
    secrets.SystemRandom().shuffle(found)
    return found


def turnout(session: Session, *, poll_id: int) -> dict[str, int]:
    stmt = (select(Person.role, PollVoter.voted, func.count()).join(Person, Person.userid == PollVoter.userid)
            .where(PollVoter.poll_id == poll_id).group_by(Person.role, PollVoter.voted))
    totals = {"eligible": 0, "voted": 0, "member_eligible": 0, "member_voted": 0}
    for role, voted, n in session.execute(stmt):
        member = role in MEMBER_ROLES
        totals["eligible"] += n
        totals["member_eligible"] += n if member else 0
        totals["voted"] += n if voted else 0
        totals["member_voted"] += n if voted and member else 0
    return totals


def not_voted(session: Session, *, poll_id: int) -> list[Person]:
    stmt = (select(Person).join(PollVoter, Person.userid == PollVoter.userid)
            .where(PollVoter.poll_id == poll_id, PollVoter.voted.is_(False)).order_by(Person.userid))
    return list(session.scalars(stmt))


def pending_for(session: Session, *, userid: str, voted: bool = False) -> list[Poll]:
    """Open polls this person may still vote in (or, with voted=True, has voted in), oldest deadline first."""
    stmt = (select(Poll).join(PollVoter, PollVoter.poll_id == Poll.id)
            .where(PollVoter.userid == userid, PollVoter.voted.is_(voted), Poll.status == "open"))
    return list(session.scalars(stmt.order_by(Poll.deadline, Poll.id)))


def pending_by_person(session: Session) -> dict[str, list[Poll]]:
    """Everyone's open polls still to vote in, in one query (for the weekly digest)."""
    stmt = (select(PollVoter.userid, Poll).join(Poll, Poll.id == PollVoter.poll_id)
            .where(PollVoter.voted.is_(False), Poll.status == "open").order_by(Poll.deadline, Poll.id))
    found: dict[str, list[Poll]] = {}
    for userid, poll in session.execute(stmt):
        found.setdefault(userid, []).append(poll)
    return found


def open_polls(session: Session, *, branch_id: int | None = None) -> list[Poll]:
    stmt = select(Poll).where(Poll.status == "open")
    stmt = stmt.where(Poll.branch_id == branch_id) if branch_id is not None else stmt
    return list(session.scalars(stmt.order_by(Poll.deadline, Poll.id)))


def due_to_close(session: Session, *, now: float) -> list[int]:
    return list(session.scalars(select(Poll.id).where(Poll.status == "open", Poll.deadline <= now).order_by(Poll.id)))


def reshuffle(session: Session, *, poll_id: int, keep: bool, open_poll: bool = False) -> None:
    """Leave no order or stamp that follows the votes. SQLite keeps ballots in the order of their
    random keys already; PostgreSQL keeps rows in insertion order and stamps each with its
    transaction id (shared with the voter's participation row), so there the ballots are rewritten
    with fresh ids in random order, in one statement. Under the publication threshold the ballots
    are dropped instead: a single ballot plus who voted would be a vote. A ballot's voter group stays
    while the poll is open (`open_poll`) and is cleared when it closes: once counted it would only
    narrow down who chose what."""
    if not keep:
        session.execute(delete(Ballot).where(Ballot.poll_id == poll_id))
        session.execute(delete(PollComment).where(PollComment.poll_id == poll_id))
    elif session.get_bind().dialect.name == "postgresql":
        session.execute(text(_PG_REWRITE_OPEN if open_poll else _PG_REWRITE), {"poll_id": poll_id})
        session.execute(text(_PG_REWRITE_COMMENTS), {"poll_id": poll_id})
    elif not open_poll:
        session.execute(update(Ballot).where(Ballot.poll_id == poll_id, Ballot.voter_group.is_not(None))
                        .values(voter_group=None))


_PG_REWRITE = """
WITH old AS (DELETE FROM ballot WHERE poll_id = :poll_id RETURNING choice)
INSERT INTO ballot (id, poll_id, choice)
SELECT replace(gen_random_uuid()::text, '-', ''), :poll_id, choice FROM old ORDER BY random()
"""
_PG_REWRITE_OPEN = """
WITH old AS (DELETE FROM ballot WHERE poll_id = :poll_id RETURNING choice, voter_group)
INSERT INTO ballot (id, poll_id, choice, voter_group)
SELECT replace(gen_random_uuid()::text, '-', ''), :poll_id, choice, voter_group FROM old ORDER BY random()
"""
_PG_REWRITE_COMMENTS = """
WITH old AS (DELETE FROM poll_comment WHERE poll_id = :poll_id RETURNING text)
INSERT INTO poll_comment (id, poll_id, text)
SELECT replace(gen_random_uuid()::text, '-', ''), :poll_id, text FROM old ORDER BY random()
"""


def stamped_apart(session: Session, *, poll_id: int) -> bool:
    """PostgreSQL: whether some ballots were written since the last rewrite (more than one xmin)."""
    stmt = text("SELECT count(DISTINCT xmin::text) FROM ballot WHERE poll_id = :poll_id")
    return session.execute(stmt, {"poll_id": poll_id}).scalar() > 1


def to_remind(session: Session, *, poll_id: int, today: date) -> list[str]:
    stmt = select(PollVoter.userid).where(PollVoter.poll_id == poll_id, PollVoter.voted.is_(False),
                                          (PollVoter.reminded_on.is_(None)) | (PollVoter.reminded_on < today))
    return list(session.scalars(stmt.order_by(PollVoter.userid)))


def mark_reminded(session: Session, *, poll_id: int, userids: Iterable[str], today: date) -> None:
    people = list(userids)
    if people:
        session.execute(update(PollVoter).where(PollVoter.poll_id == poll_id, PollVoter.userid.in_(people))
                        .values(reminded_on=today))
