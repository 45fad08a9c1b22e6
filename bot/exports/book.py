"""What every export sheet shares: times in the configured zone, people's names, a workbook of sheets."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable, TypeVar
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlalchemy import select
from sqlmodel import Session

from storage.counting import branch_sort_key
from storage.models import Person

Row = TypeVar("Row")


def when(ts: float, tz: ZoneInfo) -> str:
    """A stored Unix time as the configured time zone reads it (invariant 7), not the server's."""
    return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M")


def workbook(header: list[str], rows: Iterable[tuple[str, list]], *, empty: str) -> Workbook:
    """A sheet per title, each headed by `header` (titles cut to Excel's 31 characters); with no rows,
    one sheet titled `empty`, so the file always says what it would hold."""
    book = Workbook()
    book.remove(book.active)
    for title, row in rows:
        if title[:31] not in book.sheetnames:
            book.create_sheet(title[:31]).append(header)
        book[title[:31]].append(row)
    if not book.sheetnames:
        book.create_sheet(empty[:31]).append(header)
    return book


def in_branch_order(rows: Iterable[Row], branch: Callable[[Row], str] = lambda row: row[0]) -> list[Row]:
    """Rows in the order people count branches (第二 before 第十), the order within a branch kept."""
    return sorted(rows, key=lambda row: branch_sort_key(branch(row)))


def names_of(session: Session) -> dict[str, str]:
    """Everyone's name in one query, rather than one query per row's author."""
    return dict(session.execute(select(Person.userid, Person.name)).all())


def write_beside(folder: Path, name: str, data: bytes) -> str:
    """A kept file written into the folder beside the workbook; its path relative to the workbook."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return f"{folder.name}/{name}"
