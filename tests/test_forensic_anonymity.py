"""无记名 read as someone holding the database would read it (issue 18): twenty votes in a known order
through encrypted callbacks, some with comments; then every file of the database (SQLite's main
file, -wal and -shm; PostgreSQL's table pages with their dead row versions, read with pageinspect,
and its WAL segments written meanwhile) and every row of every table are searched for a link
between a voter and a choice or a comment: by content, by transaction id (xmin), by physical order
and by id order.

While the poll is open, a reader without the configuration (no master key: the key files are no
use) finds no choice and no comment at all, so nothing to link. A reader with the configuration and
the key directory can open the ballots then, as the server must to count them (README says so).
After the close nobody can: every sealed copy anywhere in the files is under a destroyed key, the
ballots are gone, -wal is empty, and the published comments are in an order of their own."""
from __future__ import annotations

import base64
import json
import logging
import random
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from bot.app import build_app
from bot.scheduler.jobs import run_job
from storage import sealing
from storage.bot_state import installation_id
from storage.models import Ballot, Poll, PollComment
from tests.conftest import AES_KEY, KEY_DIR, TOKEN, eventually
from tests.test_poll_anonymity import assert_no_link, dump, spearman
from tests.test_polls import POLL_CAMPAIGN, populate

TZ = ZoneInfo("Asia/Shanghai")
VOTERS = [f"voter{i:02d}" for i in range(1, 21)]  # in voting order; long enough not to occur by chance
OPTIONS = ("满意", "基本满意", "不满意")
ROSTER = ("userid,name,branch,role\nsec,书记甲,第一党支部,支部书记\n"
          + "".join(f"{u},人员{u},第一党支部,{'党员' if i % 4 else '群众'}\n" for i, u in enumerate(VOTERS)))
TOKEN_PATTERN = re.compile(rb"(?:poll|inbox)-[0-9a-f]{12}-[0-9a-f]{32}\.[A-Za-z0-9_=-]{20,}")
PLAINTEXT_CALLBACK = (b"<ToUserName>", b"FromUserName", b"OptionId", b"SelectedItems", b"CDATA[")


def _comment_words() -> list[str]:
    """Ten comment words whose own (alphabetical) order is unrelated to the voting order (|rho| < 0.1):
    published in the order of their text, a list that followed the votes would show."""
    rng = random.Random(18)
    while True:
        numbers = rng.sample(range(10, 99), 10)
        if abs(spearman(list(range(10)), numbers)) < 0.1:
            return [f"建议{n}号意见" for n in numbers]


COMMENTS = _comment_words()


def plan() -> list[tuple[str, str, str | None]]:
    """(voter, option number, comment): every other voter types the vote with a comment, the rest tap."""
    rng, comments, votes = random.Random(20), iter(COMMENTS), []
    for i, userid in enumerate(VOTERS):
        votes.append((userid, rng.choice("1112223"), next(comments) if i % 2 == 0 else None))
    return votes


@pytest.fixture
async def live(settings, engine, emulator, tmp_path, aiohttp_server):
    today = date.today()
    populate(engine, tmp_path, ROSTER, POLL_CAMPAIGN.replace("2026-05-01", str(today - timedelta(days=10)))
             .replace("2026-06-30", str(today + timedelta(days=40)))
             .replace("2026-05-20", str(today + timedelta(days=5))))
    server = await aiohttp_server(build_app(settings, engine))
    emulator.connect_bot(url=str(server.make_url("/wecom/callback")), token=TOKEN, aes_key=AES_KEY, retry_after=2.0)
    return server


async def vote(emulator, engine, votes) -> tuple[Poll, datetime]:
    deadline = (datetime.now(TZ) + timedelta(days=2)).replace(hour=18, minute=0, second=0, microsecond=0)
    await emulator.say("sec", f"/评议 支部满意度 截止 {deadline.month}月{deadline.day}日 18:00")
    assert await eventually(lambda: all(emulator.cards(u) for u in VOTERS), timeout=15)
    for userid, number, comment in votes:
        if comment:
            await emulator.say(userid, f"{number} {comment}")
        else:
            card = emulator.cards(userid)[0]
            await emulator.click(userid, card.id, selected={"choice": [number]})
    assert await eventually(lambda: all(any("已收到" in t for t in emulator.texts(u)) for u, _, _ in votes),
                            timeout=20)
    with Session(engine) as session:
        return session.scalars(select(Poll)).one(), deadline


# -- what someone holding the database reads ------------------------------------------------------

def sqlite_files(db_url: str) -> dict[str, bytes]:
    path = Path(make_url(db_url).database)
    return {p.name: p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()}


def pg_pages(db_url: str) -> list[dict]:
    """Every tuple of every table's pages, dead versions included: (table, page, lp, xmin, data)."""
    engine = create_engine(db_url)
    found = []
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
        for table in inspect(conn).get_table_names():
            pages = conn.execute(text("SELECT pg_relation_size(:t) / current_setting('block_size')::int"),
                                 {"t": table}).scalar()
            for page in range(pages):
                rows = conn.execute(text("SELECT lp, t_xmin::text::bigint, t_data FROM heap_page_items("
                                         "get_raw_page(:t, :p)) WHERE t_data IS NOT NULL"), {"t": table, "p": page})
                found += [{"table": table, "page": page, "lp": lp, "xmin": xmin, "data": bytes(data)}
                          for lp, xmin, data in rows]
    engine.dispose()
    return found


def pg_wal_since(db_url: str, since: datetime) -> bytes:
    """The WAL segments written since `since`, read through the server (a superuser may)."""
    engine = create_engine(db_url)
    with engine.connect() as conn:
        names = conn.execute(text("SELECT name FROM pg_ls_waldir() WHERE modification >= :since ORDER BY name"),
                             {"since": since}).scalars().all()
        data = b"".join(conn.execute(text("SELECT pg_read_binary_file('pg_wal/' || :n)"), {"n": n}).scalar()
                        for n in names)
    engine.dispose()
    return data


def held(db_url: str, dialect: str, since: datetime) -> dict[str, bytes]:
    """Everything of the database as bytes, named by where it lies."""
    if dialect == "sqlite":
        return sqlite_files(db_url)
    return {**{f"{t['table']}:{t['page']}:{t['lp']}": t["data"] for t in pg_pages(db_url)},
            "pg_wal": pg_wal_since(db_url, since)}


def tokens(blobs: dict[str, bytes], engine) -> set[str]:
    """The sealed tokens of this database (PostgreSQL's WAL also holds other databases' of the cluster)."""
    with Session(engine) as session:
        installation = installation_id(session)
    return {m.decode() for blob in blobs.values() for m in TOKEN_PATTERN.findall(blob)
            if m.split(b"-")[1].decode() == installation}


def openable(keys: sealing.Keystore, found: set[str]) -> set[str]:
    opened = set()
    for token in found:
        try:
            keys.open(token)
        except (sealing.KeyGone, ValueError):
            continue
        opened.add(token)
    return opened


def assert_no_plaintext_vote(blobs: dict[str, bytes], comments: list[str]) -> None:
    for where, blob in blobs.items():
        assert not any(marker in blob for marker in PLAINTEXT_CALLBACK), f"a callback in plain text in {where}"
        for comment in comments:
            assert comment.encode() not in blob, f"the comment {comment} is readable in {where}"


def assert_no_voter_beside_a_comment(blobs: dict[str, bytes], comments: list[str]) -> None:
    """Where a published comment lies (the result in the poll row, the group message), no voter is named."""
    for where, blob in blobs.items():
        for comment in comments:
            for hit in re.finditer(re.escape(comment.encode()), blob):
                window = blob[max(0, hit.start() - 4096):hit.end() + 4096]
                assert not any(u.encode() in window for u in VOTERS), f"{comment} beside a voter in {where}"


def xmin_links(pages: list[dict]) -> list[tuple[bytes, bytes]]:
    """(voter row, ballot or comment row) pairs written by one transaction: what linked 20 of 20."""
    voters = {}
    for t in pages:
        if t["table"] == "poll_voter":
            voters.setdefault(t["xmin"], []).append(t["data"])
    return [(v, t["data"]) for t in pages if t["table"] in ("ballot", "poll_comment") for v in voters.get(t["xmin"], [])]


async def test_nothing_stored_links_a_voter_to_a_choice_open_or_closed(live, emulator, engine, settings, db_url,
                                                                         caplog):
    caplog.set_level(logging.DEBUG)
    dialect = engine.dialect.name
    started = datetime.now(ZoneInfo("UTC")) - timedelta(seconds=5)
    votes = plan()
    poll, deadline = await vote(emulator, engine, votes)
    comments = [c for _, _, c in votes if c]
    server_keys = sealing.keystore()                                   # the configuration and the key directory
    keyless = sealing.Keystore(KEY_DIR, "someone-with-the-files-but-not-the-configuration")

    # -- open: without the configuration, no choice and no comment anywhere ---------------------------
    blobs = held(db_url, dialect, started)
    assert_no_plaintext_vote(blobs, comments)
    found = tokens(blobs, engine)
    assert found and not openable(keyless, found)
    tables = dump(engine)
    # one ballot and one comment (empty when none was written) per vote, all of one length each
    assert len(tables["ballot"]) == len(tables["poll_comment"]) == len(VOTERS)
    assert len({len(row["sealed"]) for row in tables["ballot"]}) == 1
    assert len({len(row["sealed"]) for row in tables["poll_comment"]}) == 1
    cards = [row for row in tables["outbox"] if row["idem_key"].startswith("card-done:")]
    assert len(cards) == len(VOTERS) and len({len(json.dumps(row["payload"])) for row in cards}) == 1
    # sent, a tap's and a typed vote's card rows are alike in everything kept (the sender skips the latter)
    sent = await eventually(lambda: [r for r in dump(engine)["outbox"] if r["idem_key"].startswith("card-done:")
                                     and r["status"] == "sent"] if all(
        r["status"] == "sent" for r in dump(engine)["outbox"] if r["idem_key"].startswith("card-done:")) else [],
        timeout=30)
    # (a tap's call that failed and was retried keeps its attempts and error: the stated limit)
    alike = ("endpoint", "recipients", "channel", "priority", "status", "result")
    assert len(sent) == len(VOTERS) and len({json.dumps([r[k] for k in alike], default=str) for r in sent}) == 1
    assert all(not any(o in row["sealed"] for o in OPTIONS) for row in tables["ballot"])
    assert_no_link(tables, [(u, OPTIONS[int(n) - 1], c or "") for u, n, c in votes], list(OPTIONS))
    if dialect == "postgresql":  # the same transaction id still pairs voter and ballot rows, sealed
        pairs = xmin_links(pg_pages(db_url))
        assert pairs and not any(o.encode() in ballot for _, ballot in pairs for o in OPTIONS)
    # With the configuration and the key directory, the ballots open while the poll is open (the
    # server counts them so); that is the stated limit.
    with Session(engine) as session:
        assert openable(server_keys, {row.sealed for row in session.scalars(select(Ballot))})

    # -- closed: nobody, whatever they hold ------------------------------------------------------------
    run_job("polls", engine, settings, deadline + timedelta(minutes=1))
    with Session(engine) as session:
        closed = session.get(Poll, poll.id)
        assert closed.status == "closed" and closed.result["published"]
        assert session.scalars(select(Ballot)).all() == [] and session.scalars(select(PollComment)).all() == []
    counted = {o: sum(1 for _, n, _ in votes if OPTIONS[int(n) - 1] == o) for o in OPTIONS}
    assert closed.result["counts"] == counted and sorted(closed.result["comments"]) == sorted(comments)
    assert not server_keys.exists(poll.seal_key)

    blobs = held(db_url, dialect, started)
    assert not any(marker in blob for blob in blobs.values() for marker in PLAINTEXT_CALLBACK)
    leftover = tokens(blobs, engine)
    assert not openable(server_keys, leftover), "a sealed vote can still be opened after the close"
    assert_no_voter_beside_a_comment(blobs, comments)
    if dialect == "sqlite":
        assert len(blobs.get(Path(make_url(db_url).database).name + "-wal", b"")) == 0  # checkpointed, truncated
    else:
        assert not [t for t in pg_pages(db_url) if t["table"] in ("ballot", "poll_comment", "inbound_update")]
    tables = dump(engine)
    assert_no_link(tables, [(u, OPTIONS[int(n) - 1], c or "") for u, n, c in votes], list(OPTIONS))

    # -- order: what is readable is in no order that follows the votes ---------------------------------
    order = {c: i for i, c in enumerate(comments)}
    published = closed.result["comments"]
    assert abs(spearman([order[c] for c in published], list(range(len(published))))) < 0.2
    for where, blob in blobs.items():  # the comments' places in each file or page, against the vote order
        places = [(order[c], blob.find(c.encode())) for c in comments if c.encode() in blob]
        if len(places) >= 5:
            assert abs(spearman([p[0] for p in places], [p[1] for p in places])) < 0.2, where
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert not any(c in logged for c in comments) and not any(f"选择{o}" in logged for o in OPTIONS)


async def test_ballots_under_the_threshold_leave_no_trace(live, emulator, engine, settings, db_url):
    """Three votes where five are needed: after the close, not a comment, a count or an openable byte."""
    dialect = engine.dialect.name
    started = datetime.now(ZoneInfo("UTC")) - timedelta(seconds=5)
    votes = [(u, n, c) for u, n, c in plan()[:4] if c or u == "voter02"][:3]
    poll, deadline = await vote(emulator, engine, votes)
    comments = [c for _, _, c in votes if c]
    run_job("polls", engine, settings, deadline + timedelta(minutes=1))
    with Session(engine) as session:
        closed = session.get(Poll, poll.id)
    assert closed.result["published"] is False and closed.result["counts"] == {} and closed.result["comments"] == []
    blobs = held(db_url, dialect, started)
    for where, blob in blobs.items():
        assert not any(c.encode() in blob for c in comments), f"a destroyed comment is readable in {where}"
    assert not openable(sealing.keystore(), tokens(blobs, engine))
    assert not any(marker in blob for blob in blobs.values() for marker in PLAINTEXT_CALLBACK)


def test_a_token_needs_its_key_and_the_master_key(tmp_path):
    """The key files alone open nothing; a destroyed key opens nothing; a token names its key."""
    keys = sealing.Keystore(tmp_path, "the-configured-master-key-0123456789")
    name = keys.new_key("poll", "0123456789ab")
    token = keys.seal(name, "满意".encode(), sealing.BALLOT_SIZE)
    assert len(keys.seal(name, "基本满意".encode(), sealing.BALLOT_SIZE)) == len(token)  # no length tells the choice
    assert keys.open(token).decode() == "满意" and name in token and "满意".encode() not in token.encode()
    with pytest.raises(sealing.KeyGone):
        sealing.Keystore(tmp_path, "another-master-key-0123456789abcdef").open(token)
    reader = sealing.Keystore(tmp_path, "the-configured-master-key-0123456789")  # a process reading the files
    assert reader.open(token).decode() == "满意"
    keys.destroy(name)
    assert not (tmp_path / f"{name}.key").exists()
    for store in (keys, sealing.Keystore(tmp_path, "the-configured-master-key-0123456789")):
        with pytest.raises(sealing.KeyGone):
            store.open(token)
    with pytest.raises(sealing.KeyGone):  # a made-up name is never a path
        keys.open("poll-../../etc-x." + base64.urlsafe_b64encode(b"x" * 40).decode())
