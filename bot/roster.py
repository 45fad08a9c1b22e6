"""`xianfeng roster import FILE`: read a .csv or .xlsx roster, check every row, then upsert it all.

A file with any bad row is rejected whole, with every problem listed by row number (the header
is row 1, as a spreadsheet shows it). Each branch's group chat is created (or updated) through
the outbox in the same transaction, because an app may only post to group chats it created.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine

from bot.texts import render, vocabulary
from bot.wecom import messages
from storage import audit
from storage.db import transaction
from storage.models import Role
from storage.people import ImportSummary, RosterEntry, upsert_people, userid_key

USERID = re.compile(r"^[A-Za-z0-9_.@\-]{1,64}$")  # WeChat Work's rule for member accounts


@dataclass(frozen=True)
class Problem:
    row: int  # 0 for the file as a whole
    code: str
    detail: str = ""


class RosterRejected(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems

    def render(self) -> str:
        return render("cli/roster_rejected", problems=self.problems)


def _decode(raw: bytes) -> str:
    """UTF-8 (with or without BOM) first; Excel in Chinese locales saves CSV as GBK."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise RosterRejected([Problem(0, "encoding")])


def _rows(path: Path) -> Iterator[list[str]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from csv.reader(io.StringIO(_decode(path.read_bytes())))
    elif suffix == ".xlsx":
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True, data_only=True)
        try:
            for values in book.worksheets[0].iter_rows(values_only=True):
                yield ["" if v is None else _cell(v) for v in values]
        finally:
            book.close()
    else:
        raise RosterRejected([Problem(0, "format", path.suffix or path.name)])


def _cell(value: object) -> str:
    """Spreadsheets turn account numbers into floats (1001.0); give them back as written."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@cache
def _role_words() -> dict[str, Role]:
    """Every word a role cell may hold (vocabulary.toml [roster.roles]), lower-cased, and its role."""
    words = vocabulary()["roster"]["roles"]
    return {alias.lower(): Role(role) for role, aliases in words.items() for alias in aliases}


def _header_map(header: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    names, headers = [h.strip() for h in header], vocabulary()["roster"]["columns"]
    known = {alias.lower(): key for key, aliases in headers.items() for alias in aliases}
    columns = {known[n.lower()]: i for i, n in enumerate(names) if n.lower() in known}
    missing = [aliases[0] for key, aliases in headers.items() if key not in columns]
    if missing:
        raise RosterRejected([Problem(1, "columns", "、".join(missing))])
    extras = {n: i for i, n in enumerate(names) if n and n.lower() not in known}
    return columns, extras


def _entry(number: int, cells: list[str], columns: dict[str, int], extras: dict[str, int],
           seen: dict[str, tuple[int, str]], problems: list[Problem]) -> RosterEntry | None:
    get = lambda i: cells[i].strip() if i < len(cells) else ""  # noqa: E731
    userid, name, branch, role_text = (get(columns[k]) for k in ("userid", "name", "branch", "role"))
    before = len(problems)
    if not userid:
        problems.append(Problem(number, "userid_empty"))
    elif not USERID.match(userid):
        problems.append(Problem(number, "userid_format", userid))
    elif (key := userid_key(userid)) in seen:  # the platform's UserIDs are case-insensitive: LiMing is liming
        row, spelt = seen[key]
        code = "userid_duplicate" if spelt == userid else "userid_case_duplicate"
        problems.append(Problem(number, code, f"{userid}|{row}|{spelt}"))
    else:
        seen[key] = (number, userid)
    if not name:
        problems.append(Problem(number, "name_empty"))
    role = _role_words().get(role_text.lower())
    if role is None:
        problems.append(Problem(number, "role_unknown", role_text))
    elif not branch and role != Role.committee:
        problems.append(Problem(number, "branch_empty"))
    if len(problems) > before:
        return None
    attributes = {key: get(i) for key, i in extras.items() if get(i)}
    return RosterEntry(userid=userid, name=name, branch=branch or None, role=role, attributes=attributes)


def read_roster(path: Path) -> list[RosterEntry]:
    rows = iter(_rows(path))
    header = next(rows, None)
    if header is None:
        raise RosterRejected([Problem(0, "empty")])
    columns, extras = _header_map(header)
    entries, problems, seen = [], [], {}
    for number, cells in enumerate(rows, start=2):
        if not any(c.strip() for c in cells):
            continue  # spreadsheets keep blank rows at the end
        entry = _entry(number, cells, columns, extras, seen, problems)
        if entry:
            entries.append(entry)
    if problems:
        raise RosterRejected(problems)
    if not entries:
        raise RosterRejected([Problem(0, "empty")])
    return entries


def import_roster(engine: Engine, path: Path, *, actor: str = "system") -> ImportSummary:
    """Import the file whole or not at all; an import that changes anyone or any chat is logged
    (storage.audit) as `actor`'s: "cli", or "system" (the demo, a rehearsal)."""
    entries = read_roster(path)
    with transaction(engine) as session:
        summary = upsert_people(session, entries)
        if summary.created or summary.updated or summary.chats:
            audit.append(session, actor=actor, action="roster.imported", subject="roster", details={
                "file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "created": summary.created,
                "updated": summary.updated, "unchanged": summary.unchanged, "chats": len(summary.chats)})
        for change in summary.chats:
            branch, revision = change.branch, change.branch.chat_revision
            key = f"appchat:{branch.chat_id}:{revision}"
            if change.created:
                messages.create_chat(session, key=key, chat_id=branch.chat_id, owner=branch.chat_owner,
                                     name=render("chat_name", branch=branch.name), members=change.add)
                # A new group chat only shows up in the client once a message is posted to it.
                messages.to_chat(session, key=f"{key}:welcome", chat_id=branch.chat_id,
                                 text=render("chat_welcome", branch=branch.name))
            else:
                messages.update_chat(session, key=key, chat_id=branch.chat_id, owner=branch.chat_owner,
                                     add=change.add, remove=change.remove)
    return summary
