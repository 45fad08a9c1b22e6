"""Issue 17: an image or a file sent with /报送 is fetched with media/get behind the reply and kept
byte for byte (WeChat Work keeps temporary media three days); a failed fetch is retried; media the
platform no longer has leaves a record saying so and a kind request to send it again; the reviewer
gets the file with /审核 N; the export writes the files beside the workbook. Against the emulator
over real HTTP, on SQLite and PostgreSQL.

The roster is conftest's: zhang (secretary of 第一党支部), zhao (secretary of 第二党支部), sun (党委).
"""
from __future__ import annotations

import hashlib
import io
import re
import time as clock
from dataclasses import replace
from datetime import date, timedelta

import aiohttp
import pytest
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import select, text
from sqlmodel import Session

from bot import document_files
from bot.app import build_app
from bot.campaigns import load_campaign_file, save_campaign
from bot.document_files import MediaFetcher
from bot.cli import main
from bot.wecom.api import ApiError, WeComClient
from bot.wecom.emulator import Fault
from bot.wecom.emulator.callbacks import media_message
from bot.wecom.updates import parse_update
from storage.db import transaction
from storage.models import DocumentFile, DocumentSubmission, Outbox
from tests.conftest import AES_KEY, AGENT_ID, CORP_ID, TOKEN, campaign_yaml, eventually, make_settings
from tests.test_sender import drain
from tests.test_task_credit import Chat

TITLE = "支部活动方案"
DOCX = b"PK\x03\x04" + bytes(range(256)) * 40 + "第一党支部活动方案：一、目标……".encode()


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


PNG = png()


@pytest.fixture
def plan(engine, rostered, tmp_path):
    """A document task for the branches whose window holds today."""
    today = date.today()
    path = tmp_path / "plan.yaml"
    path.write_text(campaign_yaml("报送测试", f"""
phases:
  - name: 组织实施
    start: {today - timedelta(days=10)}
    end: {today + timedelta(days=40)}
    tasks:
      - {{id: branch-plan, title: {TITLE}, kind: document, audience: branches, due: {today + timedelta(days=20)}}}
"""), encoding="utf-8")
    with transaction(engine) as session:
        return save_campaign(session, load_campaign_file(path), source_file="plan").record.name


class Desk(Chat):
    """The chat on today's date, plus images and files a person sends, kept by the emulator as the
    platform keeps them (three days)."""

    def __init__(self, engine, emulator):
        super().__init__(engine)
        self.emulator = emulator

    def now(self) -> int:
        self.sent += 1
        return int(clock.time()) + self.sent

    def type(self, userid: str, text: str) -> str:
        return self.say(userid, text, date.today())

    def send(self, userid: str, kind: str, data: bytes, *, filename: str = "", content_type: str) -> int:
        """/报送, then the image or file; the submission's number."""
        assert TITLE in self.type(userid, "/报送")
        media_id = self.emulator.keep_media(data, content_type=content_type, filename=filename)
        before = len(self.replies(userid))
        xml = media_message(CORP_ID, AGENT_ID, userid, kind, media_id, create_time=self.now(),
                            file_name=filename if kind == "file" else "",
                            pic_url=f"https://wework.example/pic/{media_id}" if kind == "image" else "")
        self.dispatcher.feed_update(parse_update(xml))
        return int(re.search(r"第(\d+)号", "\n".join(self.replies(userid)[before:]))[1])


class Fetching:
    """The MediaFetcher over HTTP to the emulator, on a clock the test moves."""

    def __init__(self, settings, engine):
        # One fetch_once() is one try: under a loaded CI machine the conftest's 0.5 s (meant for tests of
        # timeouts) could fail a download that a test expects kept, as it once failed a console sign-in.
        self.settings, self.engine, self.ahead = replace(settings, http_timeout=10.0), engine, 0.0

    async def run(self, times: int = 1) -> None:
        async with aiohttp.ClientSession() as http:
            fetcher = MediaFetcher(settings=self.settings, engine=self.engine,
                                      client=WeComClient(self.settings, self.engine, http),
                                      clock=lambda: clock.time() + self.ahead)
            for _ in range(times):
                await fetcher.fetch_once()

    def later(self, seconds: float) -> None:
        self.ahead += seconds


def submission(engine, number: int) -> DocumentSubmission:
    with Session(engine) as session:
        return session.get(DocumentSubmission, number)


def kept(engine, number: int) -> DocumentFile | None:
    with Session(engine) as session:
        return session.get(DocumentFile, number)


async def test_a_file_and_an_image_sent_through_the_platform_are_kept_byte_identical_and_sent_to_the_reviewer(
        settings, engine, emulator, plan, aiohttp_server):
    """End to end: encrypted callbacks from the emulator to the bot on a real port, the bot's own
    background fetcher, media/get and media/upload over HTTP."""
    server = await aiohttp_server(build_app(settings, engine))
    emulator.connect_bot(url=str(server.make_url("/wecom/callback")), token=TOKEN, aes_key=AES_KEY, retry_after=2.0)
    docx_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

    await emulator.say("zhang", "/报送")
    assert await eventually(lambda: any(TITLE in t for t in emulator.texts("zhang")))
    _, delivery = await emulator.send_media("zhang", "file", DOCX, filename="活动方案（第一党支部）.docx",
                                            content_type=docx_type)
    assert delivery.delivered
    await emulator.say("zhang", "/报送")
    assert await eventually(lambda: sum(TITLE in t and "请发送" in t for t in emulator.texts("zhang")) == 2)
    image_media, _ = await emulator.send_media("zhang", "image", PNG, content_type="image/png")

    assert await eventually(lambda: kept(engine, 1) is not None and kept(engine, 2) is not None, timeout=15)
    the_file, the_image = kept(engine, 1), kept(engine, 2)
    assert the_file.data == DOCX and the_file.filename == "活动方案（第一党支部）.docx"
    assert the_file.content_type == docx_type and the_file.size == len(DOCX)
    assert the_file.sha256 == hashlib.sha256(DOCX).hexdigest()
    assert the_image.data == PNG and the_image.content_type == "image/png"
    assert the_image.filename == f"{image_media}.png"  # no name in an image's callback: media/get's own
    assert submission(engine, 1).file_status == "kept" and submission(engine, 1).status == "pending"

    before = len(emulator.screen("sun"))
    await emulator.say("sun", "/审核 1")
    received = lambda kind: [e for e in emulator.screen("sun")[before:] if e.sender == "app" and e.msgtype == kind]  # noqa: E731
    assert await eventually(lambda: received("file"), timeout=15)
    assert emulator.media[received("file")[0].body["media_id"]][1] == DOCX
    assert received("file")[0].body["filename"] == "活动方案（第一党支部）.docx"  # as the phone shows it
    shown = [t for t in emulator.texts("sun") if "第1号" in t][-1]
    assert "活动方案（第一党支部）.docx" in shown and "随后发给你" in shown
    await emulator.say("sun", "/审核 2")
    assert await eventually(lambda: received("image"), timeout=15)
    assert emulator.media[received("image")[0].body["media_id"]][1] == PNG


async def test_a_failed_download_is_retried_and_then_kept(settings, engine, emulator, plan):
    settings = make_settings(settings.database_url, settings.api_base, retry_base=60.0, retry_cap=600.0)
    desk, fetching = Desk(engine, emulator), Fetching(settings, engine)
    number = desk.send("zhang", "file", DOCX, filename="方案.docx", content_type="application/octet-stream")
    emulator.fail("media/get", Fault(status=502))
    await fetching.run()
    row = submission(engine, number)
    assert row.file_status == "fetching" and row.fetch_attempts == 1 and "502" in row.fetch_error
    assert kept(engine, number) is None
    await fetching.run()  # not due yet: the retry waits its backoff
    assert submission(engine, number).fetch_attempts == 1
    fetching.later(60)  # the first retry comes after 30 to 60 s (retry_base, with jitter)
    await fetching.run()
    assert kept(engine, number).data == DOCX and submission(engine, number).file_status == "kept"
    assert emulator.count("media/get") == 2


@pytest.mark.parametrize("how", ["expired", "failing-for-three-days"])
async def test_media_the_platform_no_longer_has_is_recorded_and_the_secretary_asked_kindly_to_send_it_again(
        settings, engine, emulator, plan, how):
    desk, fetching = Desk(engine, emulator), Fetching(settings, engine)
    number = desk.send("zhang", "image", PNG, content_type="image/png")
    three_days = 3 * 86400 + 60
    if how == "expired":  # the bot was down for three days: the platform answers 40007
        emulator.clock = lambda: clock.time() + three_days
    else:  # every try failed until the three days were over
        emulator.fail("media/get", *[Fault(errcode=-1)] * 2)
        await fetching.run()
        assert submission(engine, number).file_status == "fetching"
        fetching.later(three_days)
    await fetching.run()

    row = submission(engine, number)
    assert row.file_status == "lost" and row.status == "pending" and kept(engine, number) is None
    assert ("40007" if how == "expired" else "three days") in row.fetch_error
    asked = desk.replies("zhang")[-1]
    assert f"第{number}号" in asked and "没能保存" in asked and "/报送" in asked and "麻烦你" in asked
    listing = desk.type("sun", "/审核")
    assert f"第{number}号" in listing and "没能保存" in listing  # the submission is still there, saying so
    assert "没能保存" in desk.type("sun", f"/审核 {number}")
    await fetching.run()  # settled: never tried again, nobody told twice
    assert sum("没能保存" in r for r in desk.replies("zhang")) == 1


async def test_a_file_past_what_one_download_returns_is_not_kept_and_the_secretary_is_told(
        settings, engine, emulator, plan, monkeypatch):
    monkeypatch.setattr(document_files, "MAX_BYTES", 1000)
    desk, fetching = Desk(engine, emulator), Fetching(settings, engine)
    number = desk.send("zhang", "file", DOCX, filename="大文件.docx", content_type="application/octet-stream")
    await fetching.run()
    assert submission(engine, number).file_status == "too_large" and kept(engine, number) is None
    assert "压缩或拆分" in desk.replies("zhang")[-1]


async def test_the_export_writes_the_kept_files_beside_the_workbook_and_lists_them(
        settings, engine, emulator, plan, tmp_path, db_url, monkeypatch, capsys):
    desk, fetching = Desk(engine, emulator), Fetching(settings, engine)
    the_file = desk.send("zhang", "file", DOCX, filename="方案/终稿.docx", content_type="application/octet-stream")
    the_image = desk.send("zhao", "image", PNG, content_type="image/png")
    desk.type("zhang", "/报送")
    the_text = int(re.search(r"第(\d+)号", desk.type("zhang", "本支部方案全文……"))[1])
    await fetching.run()
    desk.type("sun", f"/审核 {the_file} 通过")
    lost = desk.send("zhao", "file", DOCX, filename="丢了.docx", content_type="application/octet-stream")
    emulator.media.clear()  # gone from the platform
    await fetching.run()

    out = tmp_path / "archive" / "报送材料.xlsx"
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["export", "documents", "--campaign", plan, "--out", str(out)]) == 0
    folder = tmp_path / "archive" / "报送材料_文件"
    said = capsys.readouterr().out
    assert "已导出 4 行" in said and str(folder) in said
    sheet = load_workbook(out).active
    header = [c.value for c in sheet[1]]
    listed = {r["编号"]: r for r in (dict(zip(header, [c.value for c in row])) for row in sheet.iter_rows(min_row=2))}
    for number, data in ((the_file, DOCX), (the_image, PNG)):
        row = listed[number]
        assert row["文件保存"] == "已保存" and row["SHA-256"] == hashlib.sha256(data).hexdigest()
        assert row["大小（字节）"] == len(data)
        assert (tmp_path / "archive" / row["保存的文件"]).read_bytes() == data
    assert listed[the_file]["保存的文件"] == f"报送材料_文件/{the_file}-方案_终稿.docx"  # no folder from a name
    assert listed[the_file]["状态"] == "已通过"
    assert listed[lost]["文件保存"].startswith("未能保存") and listed[lost]["保存的文件"] is None
    assert listed[the_text]["文件保存"] is None and listed[the_text]["文字内容"] == "本支部方案全文……"
    assert sorted(p.name for p in folder.iterdir()) == sorted([f"{the_file}-方案_终稿.docx",
                                                              f"{the_image}-{kept(engine, the_image).filename}"])


async def test_a_reviewer_asking_for_a_submission_gets_its_file_from_what_was_kept(settings, engine, emulator, plan):
    """Days later the secretary's MediaId is gone; /审核 N uploads the kept bytes and sends them."""
    desk, fetching = Desk(engine, emulator), Fetching(settings, engine)
    number = desk.send("zhang", "file", DOCX, filename="方案.docx", content_type="application/octet-stream")
    await fetching.run()
    emulator.media.clear()
    shown = desk.type("sun", f"/审核 {number}")
    assert "方案.docx" in shown and "通过" in shown
    with Session(engine) as session:
        [queued] = session.scalars(select(Outbox).where(Outbox.payload["msgtype"].as_string() == "file")).all()
        assert queued.payload["touser"] == "sun"
    await drain(settings, engine)
    [got] = [e for e in emulator.screen("sun") if e.msgtype == "file"]
    assert emulator.media[got.body["media_id"]][1] == DOCX and emulator.media_names[got.body["media_id"]] == "方案.docx"
    assert "没有第99号" in desk.type("sun", "/审核 99")
    assert "只有党委" in desk.type("zhang", f"/审核 {number}")


async def test_the_emulator_answers_media_get_as_the_platform_documents_it(settings, engine, emulator):
    async with aiohttp.ClientSession() as http:
        client = WeComClient(settings, engine, http)
        with pytest.raises(ApiError) as unknown:
            await client.download("never-issued", max_bytes=1 << 20)
        assert unknown.value.errcode == 40007 and unknown.value.errmsg == "invalid media_id"
        media_id = await client.upload("file", filename="总结.pdf", content_type="application/pdf", data=DOCX)
        got = await client.download(media_id, max_bytes=1 << 20)
        assert (got.data, got.content_type, got.filename) == (DOCX, "application/pdf", "总结.pdf")
        async with http.get(f"{settings.api_base}/media/get",
                            params={"access_token": await client.token(), "media_id": media_id}) as resp:
            assert resp.headers["Content-Disposition"].startswith("attachment; filename=")
        emulator.clock = lambda: clock.time() + 3 * 86400 + 1
        emulator.tokens = {t: clock.time() + 3 * 86400 + 7200 for t in emulator.tokens}  # the token is not the point
        with pytest.raises(ApiError) as expired:
            await client.download(media_id, max_bytes=1 << 20)
        assert expired.value.errcode == 40007



def test_the_upgrade_fetches_what_is_still_on_the_platform_and_marks_older_media_lost(engine, db_url, emulator, plan):
    """Submissions made before 0018 kept only a MediaId: within its three days it is fetched, after
    them the record says the file was lost (a text has no file)."""
    from alembic import command

    from storage.migrate import alembic_config, upgrade

    desk = Desk(engine, emulator)
    recent = desk.send("zhang", "file", DOCX, filename="新.docx", content_type="application/octet-stream")
    old = desk.send("zhao", "image", PNG, content_type="image/png")
    desk.type("zhang", "/报送")
    written = int(re.search(r"第(\d+)号", desk.type("zhang", "本支部方案全文……"))[1])
    command.downgrade(alembic_config(db_url), "0015")
    with engine.begin() as conn:
        conn.execute(text("UPDATE document_submission SET submitted_at = submitted_at - 4 * 86400 WHERE id = :id"),
                     {"id": old})
    upgrade(db_url)
    assert [submission(engine, n).file_status for n in (recent, old, written)] == ["fetching", "lost", None]
