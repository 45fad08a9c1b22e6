"""The audit log (storage/audit.py) as people read it: each entry as one line in Chinese, for
`xianfeng audit show` and the committee's console, and what `xianfeng audit verify` found, in words for
operators. The words are message_templates/audit_entry.j2, cli/audit_*.j2 and vocabulary.toml [audit]."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session

from bot.texts import render, vocabulary
from storage import audit
from storage.models import Person


@dataclass(frozen=True)
class ShownEntry:
    seq: int
    when: str  # local time, "2026-12-05 09:07:03"
    actor: str  # "张伟（zhang）", or 命令行 / 系统
    action: str  # the action's words, e.g. 结束评议
    text: str  # what happened, one sentence (audit_entry.j2)


def shown(session: Session, *, limit: int, before: int | None = None, tz: str) -> list[ShownEntry]:
    """The newest entries first, as storage.audit.entries gives them (at most audit.SHOW_LIMIT), in
    words. The next page: before = the last one's seq."""
    found = audit.entries(session, limit=limit, before=before)
    userids = {e.actor for e in found}
    names = dict(session.execute(select(Person.userid, Person.name).where(Person.userid.in_(userids))).all()) \
        if userids else {}
    return [ShownEntry(e.seq, local_time(e.at, tz), actor_words(e.actor, names), action_words(e.action),
                       _sentence(e)) for e in found]


def _sentence(entry) -> str:
    try:
        return render("audit_entry", entry=entry, plain=False)
    except Exception:  # noqa: BLE001 - details not as this version writes them (edited by hand): show the subject
        return render("audit_entry", entry=entry, plain=True)


def local_time(at: float, tz: str) -> str:
    return datetime.fromtimestamp(at, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")


def actor_words(actor: str, names: dict[str, str]) -> str:
    words = vocabulary()["audit"]
    if actor in words["actors"]:
        return words["actors"][actor]
    return words["person"].format(name=names[actor], userid=actor) if actor in names else actor


def action_words(action: str) -> str:
    return vocabulary()["audit"]["actions"].get(action, action)


def verify_words(report: audit.Report, tz: str) -> str:
    """What `xianfeng audit verify` prints: how many entries are intact, or each problem, naming the entry."""
    problems = [dict(kind=p.kind, first=p.first, last=p.last,
                     entry=dict(seq=p.entry.seq, when=local_time(p.entry.at, tz), action=action_words(p.entry.action),
                                subject=p.entry.subject) if p.entry is not None else None)
                for p in report.problems]
    return render("cli/audit_verify", report=report, problems=problems)
