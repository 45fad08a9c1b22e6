"""Polls: eligibility and participation (poll_voter) apart from ballots (ballot), and nothing that
joins them but the transaction that wrote both, which is why a ballot is sealed under its poll's key
until the close (storage/sealing.py). Every function takes the session of the caller's transaction."""
from __future__ import annotations

import functools
import json
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Iterable

from sqlalchemy import delete, func, insert, select, update
from sqlmodel import Session

from storage import inbox
from storage.bot_state import installation_id
from storage.db import after_commit, scrub
from storage.models import Ballot, Person, Poll, PollComment, PollVoter, Role
from storage.sealing import BALLOT_SIZE, COMMENT_SIZE, keystore, plain_token

VOTER_ROLES = {"members": {Role.member, Role.secretary}, "masses": {Role.masses},
               "both": {Role.member, Role.secretary, Role.masses}}
MEMBER_ROLES = {Role.member.value, Role.secretary.value}


def eligible(session: Session, *, branch_id: int, voters: str, exclude: str | None = None) -> list[str]:
    roles = [r.value for r in VOTER_ROLES[voters]]
    stmt = select(Person.userid).where(Person.branch_id == branch_id, Person.role.in_(roles))
    return [u for u in session.scalars(stmt.order_by(Person.userid)) if u != exclude]


def create(session: Session, *, poll: Poll, voters: list[str]) -> Poll:
    """The poll with its own key, written before the poll is stored (storage/sealing.py)."""
    poll.seal_key = keystore().new_key("poll", installation_id(session))
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


def add_ballot(session: Session, *, poll: Poll, choice: str, comment: str | None = None,
               voter_group: str | None = None) -> None:
    """The choice, and voter_group ("member" or "masses", never who) only for a poll that counts 群众
    apart, sealed under the poll's key. A comment goes to poll_comment, sealed on its own: a ballot
    and comment in one row let a lone commenter's words tell their choice (issue 18)."""
    session.execute(insert(Ballot).values(id=secrets.token_hex(16), poll_id=poll.id, sealed=_seal(
        poll, json.dumps({"choice": choice, "group": voter_group}, ensure_ascii=False), BALLOT_SIZE)))
    # Every vote writes a comment, empty when none was given: a comment row written only by those who
    # commented would tell, by its transaction, who wrote the comments published later.
    session.execute(insert(PollComment).values(id=secrets.token_hex(16), poll_id=poll.id,
                                               sealed=_seal(poll, comment or "", COMMENT_SIZE)))


@dataclass(frozen=True)
class Opened:
    """A closing poll's ballots, unsealed and counted by (choice, voter group), and its comments in the
    order of their text (neither the vote order nor the order of the rows)."""
    tally: dict[tuple[str, str | None], int]
    comments: list[str]

    def counts(self) -> dict[str, int]:
        found: Counter[str] = Counter()
        for (choice, _), n in self.tally.items():
            found[choice] += n
        return dict(found)

    def group_counts(self) -> dict[str, dict[str, int]]:
        """Votes per choice in each voter group; ballots without a group are left out."""
        found: dict[str, dict[str, int]] = {}
        for (choice, group), n in self.tally.items():
            if group is not None:
                found.setdefault(group, {})[choice] = n
        return found


def open_ballots(session: Session, *, poll: Poll) -> Opened:
    """Unseal the poll's ballots and comments for the count (raises KeyGone if its key is lost). Equal
    choices seal equal plaintexts, so they are counted as bytes and each distinct one read once."""
    keys = keystore()
    sealed = Counter(keys.open_many(session.scalars(select(Ballot.sealed).where(Ballot.poll_id == poll.id))))
    tally: Counter[tuple[str, str | None]] = Counter()
    for plain, n in sealed.items():
        vote = json.loads(plain)
        tally[(vote["choice"], vote.get("group"))] += n
    comments = [plain.decode() for plain in
                keys.open_many(session.scalars(select(PollComment.sealed).where(PollComment.poll_id == poll.id)))
                if plain]
    return Opened(dict(tally), sorted(comments))


def discard_ballots(session: Session, *, poll_id: int) -> None:
    """Once counted (or under the threshold, not to be counted) the ballots and comments go: the
    result holds what is published, and nothing else of them is kept."""
    session.execute(delete(Ballot).where(Ballot.poll_id == poll_id))
    session.execute(delete(PollComment).where(PollComment.poll_id == poll_id))


def erase_after_close(session: Session, *, key: str | None) -> None:
    """Once the close has committed: destroy the poll's key, so what any copy of the database holds
    of its ballots (dead rows, WAL, backups) is noise; and, once for however many polls this commit
    closed, put a new inbox key in place (the callbacks that carried the votes go the same way) and
    scrub the files of the deleted rows."""
    if key:
        after_commit(session, functools.partial(keystore().destroy, key))
    if not session.info.get(_ERASING):
        session.info[_ERASING] = True
        engine = session.get_bind()
        after_commit(session, lambda: (inbox.rotate_key(engine), scrub(engine, SCRUBBED)))


_ERASING = "xianfeng_erasing_after_close"
SCRUBBED = ("ballot", "poll_comment", "inbound_update")
ORPHAN_SECONDS = 3600.0  # a poll key without a poll: the issuing transaction failed, or is still running


def sweep_keys(session: Session, *, now: float) -> int:
    """What erase_after_close did not get to (a crash between the commit and the erasing): the keys of
    closed polls, and keys of polls that were never stored; how many were destroyed."""
    keys = keystore()
    found = keys.names("poll", installation_id(session))
    if not found:
        return 0
    open_keys = set(session.scalars(select(Poll.seal_key).where(Poll.status == "open", Poll.seal_key.is_not(None))))
    stored = set(session.scalars(select(Poll.seal_key).where(Poll.seal_key.in_([n for n, _ in found]))))
    gone = [n for n, made in found if n not in open_keys and (n in stored or now - made > ORPHAN_SECONDS)]
    return sum(keys.destroy(n) for n in gone)


def _seal(poll: Poll, text: str, size: int) -> str:
    return keystore().seal(poll.seal_key, text.encode(), size) if poll.seal_key else plain_token(text.encode())


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


def page(session: Session, *, branch_id: int | None = None, limit: int, offset: int = 0) -> tuple[list[Poll], int]:
    """Polls newest first (of one branch, when given), one page, and how many there are in all."""
    where = [Poll.branch_id == branch_id] if branch_id is not None else []
    total = session.scalar(select(func.count()).select_from(Poll).where(*where)) or 0
    stmt = select(Poll).where(*where).order_by(Poll.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(stmt)), total


def turnouts(session: Session, *, poll_ids: list[int]) -> dict[int, tuple[int, int]]:
    """poll id -> (voted, eligible), in one grouped query: who may vote and how many have, never what."""
    if not poll_ids:
        return {}
    found: dict[int, list[int]] = {pid: [0, 0] for pid in poll_ids}
    stmt = (select(PollVoter.poll_id, PollVoter.voted, func.count()).where(PollVoter.poll_id.in_(poll_ids))
            .group_by(PollVoter.poll_id, PollVoter.voted))
    for poll_id, voted, n in session.execute(stmt):
        found[poll_id][1] += n
        found[poll_id][0] += n if voted else 0
    return {pid: (voted, eligible) for pid, (voted, eligible) in found.items()}


def due_to_close(session: Session, *, now: float) -> list[int]:
    return list(session.scalars(select(Poll.id).where(Poll.status == "open", Poll.deadline <= now).order_by(Poll.id)))


def to_remind(session: Session, *, poll_id: int, today: date) -> list[str]:
    stmt = select(PollVoter.userid).where(PollVoter.poll_id == poll_id, PollVoter.voted.is_(False),
                                          (PollVoter.reminded_on.is_(None)) | (PollVoter.reminded_on < today))
    return list(session.scalars(stmt.order_by(PollVoter.userid)))


def mark_reminded(session: Session, *, poll_id: int, userids: Iterable[str], today: date) -> None:
    people = list(userids)
    if people:
        session.execute(update(PollVoter).where(PollVoter.poll_id == poll_id, PollVoter.userid.in_(people))
                        .values(reminded_on=today))
