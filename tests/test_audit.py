"""The audit log (issue 20), on SQLite and PostgreSQL: each logged action, from the command line and from
chat, appends exactly one entry with its actor, action and subject; `xianfeng audit verify` passes on an
untouched chain and names the entry that was edited (its details or its actor, by SQL), deleted (in the
middle, or the last one: the head in bot_state still counts it), rewritten with a new hash, reordered or
added around the log; and two appenders at once never fork the chain."""
from __future__ import annotations

import hashlib
import json
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, select, text
from sqlmodel import Session

from bot.campaigns import load_campaign_text, save_campaign
from bot.cli import main
from bot.roster import import_roster
from bot.scheduler.jobs import run_job
from storage import audit
from storage.db import reading, transaction
from storage.models import AuditEntry, BotState, Rating
from tests.conftest import make_settings
from tests.test_pledge_form import Phone
from tests.test_polls import TZ, Town, end_poll, issued_poll, populate
from tests.test_rating_command import CAMPAIGN as RATING_CAMPAIGN, assess, claim_all_stars
from tests.test_rating_command import poll as closed_poll
from tests.test_task_marks import BRANCH_PLAN_CAMPAIGN

SEED_002 = Path(__file__).resolve().parent.parent / "campaigns" / "seed002.yaml"


def logged(engine, after: int = 0) -> list[tuple[str, str, str]]:
    """(actor, action, subject) of each entry after seq `after`, in order."""
    with Session(engine) as session:
        stmt = select(AuditEntry).where(AuditEntry.seq > after).order_by(AuditEntry.seq)
        return [(e.actor, e.action, e.subject) for e in session.scalars(stmt)]


def last_seq(engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1)) or 0


def details(engine, seq: int) -> dict:
    with Session(engine) as session:
        return session.get(AuditEntry, seq).details


def problems(engine) -> list[tuple[str, int, int]]:
    with reading(engine) as session:
        return [(p.kind, p.first, p.last) for p in audit.verify(session).problems]


def sql(engine, statement: str, **params) -> None:
    with transaction(engine) as session:
        session.execute(text(statement), params)


def chain(engine, count: int = 5) -> None:
    for n in range(1, count + 1):
        with transaction(engine) as session:
            audit.append(session, actor="cli", action="campaign.loaded", subject=f"campaign:{n}",
                         details={"name": f"活动{n}", "tasks": n, "score": 84.17})


# -- what each action logs -----------------------------------------------------------------------------------


def test_the_command_line_logs_a_campaign_load_and_a_roster_import_that_change_something(
        db_url, engine, roster_file, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["roster", "import", str(roster_file)]) == 0
    assert logged(engine) == [("cli", "roster.imported", "roster")]
    imported = details(engine, 1)
    assert (imported["file"], imported["created"], imported["updated"]) == ("roster.csv", 6, 0)
    assert imported["sha256"] == hashlib.sha256(roster_file.read_bytes()).hexdigest()
    assert main(["roster", "import", str(roster_file)]) == 0
    assert last_seq(engine) == 1  # the same file again changes nothing, and logs nothing
    assert main(["campaign", "load", str(SEED_002), "--start", "2026-03-02"]) == 0
    assert main(["campaign", "load", str(SEED_002), "--start", "2026-03-02"]) == 0  # unchanged
    assert main(["campaign", "load", str(SEED_002), "--start", "2026-03-09"]) == 0
    assert logged(engine, after=1) == [("cli", "campaign.loaded", "campaign:1")] * 2
    assert [details(engine, n)["status"] for n in (2, 3)] == ["created", "updated"]
    assert details(engine, 3)["start"] == "2026-03-09" and details(engine, 3)["file"] == "seed002.yaml"
    capsys.readouterr()
    assert main(["audit", "show", "--limit", "2"]) == 0
    shown = capsys.readouterr().out
    assert "#3 " in shown and "命令行 载入活动：“基层组织建设年（蒲城县教育局）”更新" in shown
    assert "#1 " not in shown and "xianfeng audit show --before 2" in shown
    assert main(["audit", "verify"]) == 0
    assert "审计日志完好：3 条记录逐条核对无误" in capsys.readouterr().out


def test_the_demo_and_rehearsals_load_as_the_system(engine, roster_file):
    import_roster(engine, roster_file)
    with transaction(engine) as session:
        save_campaign(session, load_campaign_text(SEED_002.read_text(encoding="utf-8")), source_file="demo.yaml")
    assert logged(engine) == [("system", "roster.imported", "roster"), ("system", "campaign.loaded", "campaign:1")]


def test_issuing_and_closing_a_poll_log_who_and_the_turnout_never_a_vote(engine, tmp_path):
    populate(engine, tmp_path)
    town, before = Town(engine), last_seq(engine)
    poll = issued_poll(town)
    assert logged(engine, after=before) == [("sec", "poll.issued", f"poll:{poll.id}")]
    assert details(engine, before + 1) == {"branch": "第一党支部", "rates": "branch", "voters": "both", "eligible": 10}
    for voter, option in [("m1", "1"), ("m2", "1"), ("m3", "2"), ("q1", "3"), ("q2", "1")]:
        town.tap(voter, poll.id, option)
    assert last_seq(engine) == before + 1  # votes are never logged
    end_poll(town, "sec", str(poll.id))
    assert logged(engine, after=before + 1) == [("sec", "poll.closed", f"poll:{poll.id}")]
    assert details(engine, before + 2) == {"voted": 5, "eligible": 10, "published": True}
    town.say("sec", f"/评议 结束 {poll.id}")  # closed already: nothing to end, nothing is logged
    assert last_seq(engine) == before + 2


def test_a_poll_closed_by_its_deadline_is_closed_by_the_system(engine, tmp_path):
    populate(engine, tmp_path)
    poll = issued_poll(Town(engine))
    before = last_seq(engine)
    run_job("polls", engine, make_settings("sqlite://", "http://127.0.0.1:9"), datetime(2026, 5, 15, 18, 1, tzinfo=TZ))
    assert logged(engine, after=before) == [("system", "poll.closed", f"poll:{poll.id}")]
    assert details(engine, before + 1) == {"voted": 0, "eligible": 10, "published": False}


@pytest.fixture
def rating_campaign(engine, rostered):
    with transaction(engine) as session:
        return save_campaign(session, load_campaign_text(RATING_CAMPAIGN), source_file="test").record


def rating_id(engine) -> int:
    with Session(engine) as session:
        return session.scalars(select(Rating.id).where(Rating.branch_id == 1)).one()


def test_entering_confirming_and_withdrawing_a_rating_each_log_one_entry(engine, rating_campaign):
    assess(engine, rating_campaign, "第一党支部", ["较好"] * 5)
    closed_poll(engine, rating_campaign, "第一党支部", rate=13 / 15)
    sun, before = Phone(engine, "sun"), last_seq(engine)
    sun.say("/定级")  # looking (the bot saves its proposals) is not entering
    sun.say("/定级 第一党支部")
    assert last_seq(engine) == before
    sun.say("/定级 第一党支部 上级 80 表彰 无")
    subject = f"rating:{rating_id(engine)}"
    assert logged(engine, after=before) == [("sun", "rating.entered", subject)]
    assert details(engine, before + 1) == {"branch": "第一党支部", "round": details(engine, before + 1)["round"],
                                           "superior": 80.0, "honoured": False}
    sun.say("/定级 确认 第一党支部")
    sun.say("/定级 确认 第一党支部")  # confirmed already: nothing new
    sun.say("/定级 第一党支部 上级 99")  # refused over a confirmed rating
    sun.say("/定级 重新 第二党支部")  # not confirmed: nothing to withdraw
    sun.say("/定级 重新 第一党支部")
    assert logged(engine, after=before + 1) == [("sun", "rating.confirmed", subject),
                                                ("sun", "rating.withdrawn", subject)]
    confirmed = details(engine, before + 2)
    assert [confirmed[k] for k in ("level", "score", "stars", "red_flag")] == ["较强", 84.17, [], False]
    assert details(engine, before + 3)["level"] == "较强"


def test_a_decision_on_a_claimed_star_is_an_entry_too(engine, rating_campaign):
    sun = claim_all_stars(engine, rating_campaign)
    before = last_seq(engine)
    sun.say("/定级 第一党支部 星 班子 确认 班子团结，测评优秀")
    sun.say("/定级 第一党支部 星 工作业绩 不确认 年度考核材料未见")
    subject = f"rating:{rating_id(engine)}"
    assert logged(engine, after=before) == [("sun", "rating.entered", subject)] * 2
    assert [(details(engine, n)["star"], details(engine, n)["decision"]) for n in (before + 1, before + 2)] == [
        ("班子建设", "confirmed"), ("工作业绩", "refused")]


def test_marking_a_task_by_hand_logs_it_with_the_reason(engine, tmp_path):
    populate(engine, tmp_path, campaign=BRANCH_PLAN_CAMPAIGN)
    town, before = Town(engine), last_seq(engine)
    town.say("boss", "/标记 第一 1")  # the list
    town.say("boss", "/标记 第一 1 不适用")  # no reason: refused
    assert last_seq(engine) == before
    town.say("boss", "/标记 第一 1 不适用 本支部已在全局总结中一并报送")
    [(actor, action, subject)] = logged(engine, after=before)
    assert (actor, action) == ("boss", "task.marked") and subject.startswith("task:")
    assert details(engine, before + 1) == {"title": "支部活动小结", "branch": "第一党支部", "for": "branch:1",
                                           "how": "not_applicable", "reason": "本支部已在全局总结中一并报送"}


def test_a_change_that_rolls_back_leaves_no_entry(engine):
    with pytest.raises(RuntimeError):
        with transaction(engine) as session:
            audit.append(session, actor="cli", action="campaign.loaded", subject="campaign:1")
            raise RuntimeError("the change failed")
    chain(engine, 1)
    assert logged(engine) == [("cli", "campaign.loaded", "campaign:1")] and problems(engine) == []


def test_long_texts_in_details_are_cut(engine):
    with transaction(engine) as session:
        audit.append(session, actor="boss", action="task.marked", subject="task:1", details={"reason": "很长" * 500})
    reason = details(engine, 1)["reason"]
    assert len(reason) == audit.TEXT_LIMIT and reason.endswith("…")


def console_fragment(session, *, limit: int = 50) -> str:
    """The log as /console/audit shows it (console/audit_log.j2, HTML-escaped), checked."""
    from bot.audit_log import shown
    from bot.texts import html_environment

    entries = shown(session, limit=limit + 1, tz="Asia/Shanghai")
    return html_environment().get_template("console/audit_log.j2").render(
        entries=entries[:limit], report=audit.verify(session),
        older_url=f"/console/audit?before={entries[limit - 1].seq}" if len(entries) > limit else None)


def test_the_console_fragment_names_people_and_escapes_what_they_typed(engine, rostered):
    chain(engine, 2)
    with transaction(engine) as session:
        audit.append(session, actor="sun", action="task.marked", subject="task:1", details={
            "title": "支部活动小结", "branch": "第一党支部", "for": "branch:1", "how": "marked_done",
            "reason": "<script>alert(1)</script>"})
    with reading(engine) as session:
        page = console_fragment(session, limit=2)
    assert "孙丽（sun）" in page and "手动标记任务" in page and "第一党支部的“支部活动小结”标记为已完成" in page
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="/console/audit?before=' in page and "campaign:1" not in page  # two a page: the oldest on the next
    assert "逐条核对无误" in page
    sql(engine, "UPDATE audit_entry SET actor = 'someone' WHERE seq = 1")
    with reading(engine) as session:
        assert "核对发现 1 处问题" in console_fragment(session)


# -- what verify finds ---------------------------------------------------------------------------------------


def test_the_hash_is_sha256_of_the_documented_canonical_json(engine):
    chain(engine, 2)
    with Session(engine) as session:
        first, second = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
    canonical = json.dumps({"seq": 2, "at": f"{second.at:.6f}", "actor": "cli", "action": "campaign.loaded",
                            "subject": "campaign:2", "details": {"name": "活动2", "tasks": 2, "score": 84.17},
                            "prev_hash": first.hash}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert second.hash == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    assert first.prev_hash == audit.GENESIS
    with Session(engine) as session:
        assert session.get(BotState, audit.HEAD).value == {"seq": 2, "hash": second.hash}


def test_an_untouched_chain_verifies(engine):
    assert problems(engine) == []  # an empty log is intact too
    chain(engine)
    assert problems(engine) == []


@pytest.mark.parametrize("edit", ["UPDATE audit_entry SET details = :forged WHERE seq = 3",
                                  "UPDATE audit_entry SET actor = 'someone' WHERE seq = 3",
                                  "UPDATE audit_entry SET at = at + 60 WHERE seq = 3"])
def test_an_edited_entry_is_named(engine, edit):
    chain(engine)
    sql(engine, edit, forged=json.dumps({"name": "活动3", "tasks": 30, "score": 84.17}))
    assert problems(engine) == [("edited", 3, 3)]


def test_a_deleted_entry_in_the_middle_is_a_gap_before_the_next_one(engine):
    chain(engine)
    sql(engine, "DELETE FROM audit_entry WHERE seq = 3")
    assert problems(engine) == [("missing", 3, 3)]
    with reading(engine) as session:
        assert audit.verify(session).problems[0].entry.seq == 4


def test_a_deleted_last_entry_is_missing_from_what_the_head_counts(engine):
    chain(engine)
    sql(engine, "DELETE FROM audit_entry WHERE seq >= 4")
    assert problems(engine) == [("missing", 4, 5)]
    sql(engine, "DELETE FROM audit_entry")
    assert problems(engine) == [("missing", 1, 5)]


def test_an_entry_rewritten_with_a_fresh_hash_breaks_the_next_link(engine):
    chain(engine)
    with Session(engine) as session:
        entry = session.get(AuditEntry, 3)
        forged = {**entry.details, "tasks": 30}
        fresh = audit.entry_hash(seq=3, at=entry.at, actor=entry.actor, action=entry.action, subject=entry.subject,
                                 details=forged, prev_hash=entry.prev_hash)
    sql(engine, "UPDATE audit_entry SET details = :d, hash = :h WHERE seq = 3", d=json.dumps(forged), h=fresh)
    assert problems(engine) == [("relinked", 4, 4)]


def test_two_entries_swapped_are_both_edited(engine):
    chain(engine)
    sql(engine, "UPDATE audit_entry SET seq = 100 WHERE seq = 2")
    sql(engine, "UPDATE audit_entry SET seq = 2 WHERE seq = 3")
    sql(engine, "UPDATE audit_entry SET seq = 3 WHERE seq = 100")
    found = problems(engine)
    assert ("edited", 2, 2) in found and ("edited", 3, 3) in found and ("relinked", 2, 2) in found


def test_an_entry_added_around_the_log_is_beyond_its_head(engine):
    chain(engine)
    with Session(engine) as session:
        last = session.get(AuditEntry, 5)
    at = round(time.time(), 6)
    forged = dict(seq=6, at=at, actor="sun", action="rating.confirmed", subject="rating:1", details={},
                  prev_hash=last.hash)
    with transaction(engine) as session:
        session.execute(AuditEntry.__table__.insert().values(**forged, hash=audit.entry_hash(**forged)))
    assert problems(engine) == [("beyond_head", 6, 6)]


def test_a_deleted_head_is_found_and_the_next_entry_says_it_was_missing(engine):
    chain(engine, 3)
    sql(engine, "DELETE FROM bot_state WHERE key = 'audit_head'")
    assert problems(engine) == [("head_missing", 3, 3)]
    chain(engine, 1)
    assert logged(engine, after=3) == [("system", "audit.head_missing", "audit"),
                                       ("cli", "campaign.loaded", "campaign:1")]
    assert problems(engine) == []  # the chain goes on, and it keeps saying the head went missing


def test_verify_on_the_command_line_names_an_edited_and_a_deleted_entry(db_url, engine, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", db_url)
    chain(engine)
    assert main(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert "审计日志完好：5 条记录逐条核对无误" in out
    with Session(engine) as session:
        assert session.get(AuditEntry, 5).hash in out  # the head, to keep outside the database
    sql(engine, "UPDATE audit_entry SET actor = 'someone' WHERE seq = 2")
    sql(engine, "DELETE FROM audit_entry WHERE seq = 4")
    sql(engine, "DELETE FROM audit_entry WHERE seq = 5")
    assert main(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert "审计日志有问题：共读到 3 条记录，发现 2 处问题" in err
    assert "第 2 条（" in err and "载入活动 campaign:2）被改过" in err
    assert "第 4 条至第 5 条不见了（被删除）：日志头记录共有 5 条" in err


# -- two appenders at once -----------------------------------------------------------------------------------


def test_concurrent_appenders_never_fork_the_chain(engine):
    failures = []

    def appender(name: str) -> None:
        try:
            for n in range(20):
                with transaction(engine) as session:
                    audit.append(session, actor=name, action="task.marked", subject=f"task:{n}")
                    if n % 5 == 0:  # now and then two entries in one transaction
                        audit.append(session, actor=name, action="task.marked", subject=f"task:{n}b")
        except Exception as exc:  # noqa: BLE001 - a forked chain fails here (the same seq twice)
            failures.append(exc)

    threads = [threading.Thread(target=appender, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with Session(engine) as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
    assert [e.seq for e in entries] == list(range(1, 49))
    assert len({e.prev_hash for e in entries}) == 48  # no two entries follow the same one
    assert problems(engine) == []


def test_a_second_appender_waits_for_the_first_to_commit_on_postgresql(db_url, engine):
    """The interleaving that would fork the chain, forced: the first appender has written its entry and
    holds the head, not yet committed; the second must wait for it (a lock wait PostgreSQL shows in
    pg_stat_activity), and then follow it."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: no second appender can be inside a transaction")
    chain(engine, 1)  # the head exists: the first append of all is serialised by creating it
    written, go, failures = threading.Event(), threading.Event(), []

    def hold(session, _context) -> None:
        if any(isinstance(o, AuditEntry) for o in session.new):
            written.set()
            go.wait(60)

    def append(actor: str) -> None:
        try:
            with transaction(engine) as session:
                if actor == "first":
                    event.listen(session, "after_flush", hold)
                audit.append(session, actor=actor, action="task.marked", subject="task:1")
        except Exception as exc:  # noqa: BLE001 - a forked chain fails here (two entries 2)
            failures.append(exc)

    threads = [threading.Thread(target=append, args=(actor,)) for actor in ("first", "second")]
    threads[0].start()
    assert written.wait(60)
    threads[1].start()
    watcher = create_engine(db_url, isolation_level="AUTOCOMMIT")  # pg_stat_activity is read afresh by each query
    try:
        deadline = time.monotonic() + 60
        with watcher.connect() as conn:
            while not conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                        "AND wait_event_type = 'Lock'")).scalar():
                assert time.monotonic() < deadline, "the second appender never waited for the first"
                time.sleep(0.05)
    finally:
        watcher.dispose()
        go.set()
        for thread in threads:
            thread.join()
    assert failures == []
    assert logged(engine, after=1) == [("first", "task.marked", "task:1"), ("second", "task.marked", "task:1")]
    assert problems(engine) == []
