"""Roster import: .csv and .xlsx, idempotent upsert, whole-file rejection, group chats via the outbox."""
from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlmodel import Session

from bot.roster import RosterRejected, import_roster, read_roster
from storage.models import Branch, Outbox, Person
from tests.conftest import ROSTER_CSV


def snapshot(engine) -> tuple:
    with Session(engine) as session:
        people = [(p.userid, p.name, p.branch_id, p.role, p.attributes) for p in session.scalars(select(Person).order_by(Person.userid))]
        branches = [(b.name, b.chat_id, b.chat_members, b.chat_revision) for b in session.scalars(select(Branch).order_by(Branch.id))]
        outbox = session.scalar(select(func.count()).select_from(Outbox))
    return people, branches, outbox


def write_xlsx(path: Path, rows: list[list]) -> Path:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def test_good_csv_imports_everyone_and_queues_one_chat_per_branch(engine, roster_file):
    summary = import_roster(engine, roster_file)
    assert (summary.created, summary.updated, summary.unchanged) == (6, 0, 0)
    people, branches, _ = snapshot(engine)
    roles = {p[0]: p[3] for p in people}
    assert roles == {"zhang": "secretary", "li": "member", "wang": "masses", "zhao": "secretary",
                     "qian": "member", "sun": "committee"}
    assert dict((p[0], p[4]) for p in people)["li"] == {"有职": "是"}
    assert [b[0] for b in branches] == ["第一党支部", "第二党支部"]
    with Session(engine) as session:
        creates = [r.payload for r in session.scalars(select(Outbox).where(Outbox.endpoint == "appchat/create"))]
    first = next(c for c in creates if c["userlist"] == ["li", "wang", "zhang"])
    assert first["owner"] == "zhang" and first["name"] == "第一党支部·创先争优" and len(first["chatid"]) <= 32


def test_same_file_twice_changes_nothing(engine, roster_file):
    import_roster(engine, roster_file)
    before = snapshot(engine)
    summary = import_roster(engine, roster_file)
    assert (summary.created, summary.updated, summary.unchanged, summary.chats) == (0, 0, 6, [])
    assert snapshot(engine) == before


def test_changed_membership_updates_the_group_chat(engine, roster_file, tmp_path):
    import_roster(engine, roster_file)
    moved = ROSTER_CSV.replace("qian,钱敏,第二党支部", "qian,钱敏,第一党支部") + "zhou,周杰,第二党支部,党员,\n"
    path = tmp_path / "moved.csv"
    path.write_text(moved, encoding="utf-8")
    summary = import_roster(engine, path)
    assert (summary.created, summary.updated) == (1, 1)
    with Session(engine) as session:
        updates = {r.payload["chatid"]: r.payload for r in session.scalars(select(Outbox).where(Outbox.endpoint == "appchat/update"))}
        chats = {b.name: b.chat_id for b in session.scalars(select(Branch))}
    assert updates[chats["第一党支部"]]["add_user_list"] == ["qian"]
    assert updates[chats["第二党支部"]] == {"chatid": chats["第二党支部"], "add_user_list": ["zhou"],
                                          "del_user_list": ["qian"], "owner": "zhao"}


def test_bad_file_imports_nothing_and_names_every_bad_row(engine, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("账号,姓名,支部,角色\n"
                    "ok1,好人,第一党支部,党员\n"
                    ",无账号,第一党支部,党员\n"
                    "ok1,重复,第一党支部,党员\n"
                    "x2,角色错,第一党支部,校长\n"
                    "x3,,第一党支部,党员\n"
                    "x4,没支部,,群众\n", encoding="utf-8")
    with pytest.raises(RosterRejected) as caught:
        import_roster(engine, path)
    assert [(p.row, p.code) for p in caught.value.problems] == [
        (3, "userid_empty"), (4, "userid_duplicate"), (5, "role_unknown"), (6, "name_empty"), (7, "branch_empty")]
    text = caught.value.render()
    for row in (3, 4, 5, 6, 7):
        assert f"第 {row} 行" in text
    assert "与第 2 行相同" in text and "校长" in text
    assert snapshot(engine) == ([], [], 0)


def test_missing_columns_are_named(tmp_path):
    path = tmp_path / "cols.csv"
    path.write_text("userid,name\nli,李娜\n", encoding="utf-8")
    with pytest.raises(RosterRejected) as caught:
        read_roster(path)
    assert "支部" in caught.value.render() and "角色" in caught.value.render()


def test_unsupported_format_is_rejected(tmp_path):
    path = tmp_path / "roster.txt"
    path.write_text("x")
    with pytest.raises(RosterRejected) as caught:
        read_roster(path)
    assert [(p.row, p.code, p.detail) for p in caught.value.problems] == [(0, "format", ".txt")]


def test_gbk_csv_from_excel_is_read(tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes("账号,姓名,支部,角色\nli,李娜,第一党支部,党员\n".encode("gbk"))
    assert read_roster(path)[0].name == "李娜"


def test_xlsx_good_twice_and_bad(engine, tmp_path):
    good = write_xlsx(tmp_path / "good.xlsx", [["账号", "姓名", "支部", "角色", "岗位"],
                                               [1001, "张伟", "第三党支部", "支部书记", "校长"],
                                               [1002, "李娜", "第三党支部", "党员", None],
                                               [None, None, None, None, None]])
    first = import_roster(engine, good)
    assert first.created == 2 and len(first.chats) == 1
    again = import_roster(engine, good)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    people, _, _ = snapshot(engine)
    assert people[0][0] == "1001" and people[0][4] == {"岗位": "校长"}
    bad = write_xlsx(tmp_path / "bad.xlsx", [["userid", "name", "branch", "role"], ["a", "甲", "一支部", "党员"],
                                             ["a", "乙", "一支部", "团员"]])
    with pytest.raises(RosterRejected) as caught:
        import_roster(engine, bad)
    assert [(p.row, p.code) for p in caught.value.problems] == [(3, "userid_duplicate"), (3, "role_unknown")]
    assert snapshot(engine)[0] == people


def test_cli_reports_and_exit_codes(db_url, roster_file, tmp_path, capsys, monkeypatch):
    from bot.cli import main

    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["roster", "import", str(roster_file)]) == 0
    assert "新增 6 人" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("userid,name,branch,role\n,x,y,党员\n", encoding="utf-8")
    assert main(["roster", "import", str(bad)]) == 1
    assert "第 2 行：账号为空" in capsys.readouterr().err
