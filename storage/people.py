"""Branches and people: queries for handlers, and the roster upsert with its group-chat sync."""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, Iterable

from sqlalchemy import func, select
from sqlmodel import Session

from storage.counting import branch_sort_key
from storage.models import Branch, Person, Role


@dataclass(frozen=True)
class RosterEntry:
    userid: str
    name: str
    branch: str | None
    role: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class ChatChange:
    """What the group chat of a branch needs, computed in the import transaction."""

    branch: Branch
    created: bool
    add: list[str]
    remove: list[str]


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    chats: list[ChatChange] = field(default_factory=list)


def userid_key(userid: str) -> str:
    """The form in which two spellings of one account are equal: WeChat Work's UserIDs are
    case-insensitive ("系统进行唯一性检查时会忽略大小写", developer.work.weixin.qq.com/document/path/90195)
    and it answers some of them lowercased. Userids are ASCII (bot.roster.USERID), where Python's
    lower() and the databases' lower() agree."""
    return userid.lower()


def find(session: Session, userid: str) -> Person | None:
    """The person this userid names, in whatever letters it comes (a callback's FromUserName, a
    command-line argument), through ux_person_userid_lower. The Person carries the roster's
    spelling, which is the one stored and sent everywhere."""
    return session.scalars(select(Person).where(func.lower(Person.userid) == userid_key(userid))).first()


def branches(session: Session) -> list[Branch]:
    """Every branch, in the order people count them (storage.counting.branch_sort_key)."""
    return sorted(session.scalars(select(Branch)), key=lambda b: branch_sort_key(b.name))


def in_branch(session: Session, *, branch_id: int) -> list[Person]:
    return list(session.scalars(select(Person).where(Person.branch_id == branch_id).order_by(Person.userid)))


def branch_of(session: Session, person: Person) -> Branch | None:
    """The person's branch; None for the committee and anyone not (yet) in one."""
    return session.get(Branch, person.branch_id) if person.branch_id else None


def branch_by_name(session: Session, *, name: str) -> Branch | None:
    return session.scalars(select(Branch).where(Branch.name == name)).first()


def branch_named(every: list[Branch], name: str) -> Branch | None:
    """Of these branches, the one by this name, or by a part of it that names one only (第一 → 第一党支部):
    how the committee names a branch in /定级 and /标记."""
    found = [b for b in every if b.name == name] or [b for b in every if name in b.name]
    return found[0] if len(found) == 1 else None


def branch_overview(session: Session) -> list[dict[str, Any]]:
    stmt = (select(Branch.name, Branch.chat_id, func.count(Person.userid))
            .join(Person, Person.branch_id == Branch.id, isouter=True)
            .group_by(Branch.id, Branch.name, Branch.chat_id))
    rows = sorted(session.execute(stmt), key=lambda row: branch_sort_key(row[0]))
    return [{"name": n, "chat_id": c, "count": k} for n, c, k in rows]


def _branches(session: Session, names: Iterable[str]) -> dict[str, Branch]:
    existing = {b.name: b for b in session.scalars(select(Branch).where(Branch.name.in_(set(names))))}
    for name in [n for n in names if n not in existing]:
        existing[name] = Branch(name=name)
        session.add(existing[name])
    session.flush()
    return existing


def upsert_people(session: Session, entries: list[RosterEntry]) -> ImportSummary:
    """Create or update every entry; return what changed, including group chats to sync."""
    branches = _branches(session, list(dict.fromkeys(e.branch for e in entries if e.branch)))
    # One query, not one per row; keyed case-insensitively, so a file that spells an account in other
    # letters updates the person, who keeps the spelling already stored (and used in every table).
    everyone = {userid_key(p.userid): p for p in session.scalars(select(Person))}
    summary = ImportSummary()
    for entry in entries:
        branch_id = branches[entry.branch].id if entry.branch else None
        values = dict(name=entry.name, branch_id=branch_id, role=entry.role, attributes=entry.attributes)
        person = everyone.get(userid_key(entry.userid))
        if person is None:
            person = everyone[userid_key(entry.userid)] = Person(userid=entry.userid, **values)
            session.add(person)
            summary.created += 1
        elif any(getattr(person, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(person, key, value)
            summary.updated += 1
        else:
            summary.unchanged += 1
    session.flush()
    summary.chats = _sync_chats(session, everyone.values())
    return summary


def _sync_chats(session: Session, everyone: Iterable[Person]) -> list[ChatChange]:
    """Each branch's chat against everyone now in it (people not in the file stay where they were)."""
    members: dict[int | None, list[Person]] = {}
    for person in sorted(everyone, key=lambda p: p.userid):
        members.setdefault(person.branch_id, []).append(person)
    return [c for b in branches(session) if (c := _sync_chat(session, b, members.get(b.id, [])))]


def _sync_chat(session: Session, branch: Branch, members: list[Person]) -> ChatChange | None:
    wanted = sorted(p.userid for p in members)
    owner = next((p.userid for p in members if p.role == Role.secretary), None)
    if branch.chat_id is None:
        if len(wanted) < 2:  # WeChat Work creates a group chat only for two people or more
            return None
        branch.chat_id = "xf" + secrets.token_hex(15)  # 32 characters of [0-9a-z], as appchat allows
        change = ChatChange(branch, True, wanted, [])
    elif wanted != branch.chat_members or owner != branch.chat_owner:
        old = set(branch.chat_members)
        change = ChatChange(branch, False, sorted(set(wanted) - old), sorted(old - set(wanted)))
    else:
        return None
    branch.chat_members, branch.chat_owner = wanted, owner
    branch.chat_revision += 1
    session.add(branch)
    return change
