"""Issue 19, finding 9: photos as progress. A member reports 践诺 with a photo of what they did: at the
/践诺 form's text step a photo answers it (a one-line caption is asked next, and may be skipped), and a
photo sent at another step of the form joins the report; the report is published to the branch group
with its text and, once the photo is kept, the photo itself; the photo is kept (sha256) like a /报送
file and the progress export writes it beside the workbook. A photo that cannot be fetched is handled as
a document's is: the report stays and the member is asked kindly to send it again. Against the emulator
over real HTTP, on SQLite and PostgreSQL.

The roster is conftest's: zhang (secretary) and li (党员, 有职) in 第一党支部; zhao (secretary) and qian
(党员) in 第二党支部; wang (群众); sun (党委).
"""
from __future__ import annotations

import hashlib
import re
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlmodel import Session

from bot import document_files
from bot.app import build_app
from bot.cli import main
from bot.wecom.emulator import Fault
from bot.wecom.emulator.callbacks import media_message
from bot.wecom.updates import parse_update
from storage import progress_photos
from storage.models import Branch, Outbox, PledgeProgress, ProgressPhoto
from tests.conftest import AES_KEY, AGENT_ID, CORP_ID, TOKEN, eventually, index_plan, make_settings
from tests.test_document_files import DOCX, PNG, Desk, Fetching
from tests.test_scheduler import load

CAPTION = "和两位青年教师一起磨课，听评课三节"
LI_PLEDGE = ("/承诺", "每周听一节课", "每月记录一次", "月底", "做实集体备课", "每两周一次", "月底", "1")


@pytest.fixture
def campaign(engine, rostered):
    """The test campaign (members pledge), its window holding today."""
    today = date.today()
    return load(engine, start=str(today - timedelta(days=10)), end=str(today + timedelta(days=40)),
                due=str(today + timedelta(days=20))).record.name


class Member(Desk):
    """A person typing and sending photos on today's date (the emulator keeps what they send)."""

    def photo(self, userid: str, data: bytes = PNG, *, kind: str = "image", filename: str = "",
              at: int | None = None) -> str:
        """`at`: the callback's CreateTime (default now; type() sends at 10:00 today, a second apart)."""
        media_id = self.emulator.keep_media(data, content_type="image/png" if kind == "image" else
                                            "application/octet-stream", filename=filename)
        before = len(self.replies(userid))
        xml = media_message(CORP_ID, AGENT_ID, userid, kind, media_id, create_time=at or self.now(),
                            pic_url=f"https://wework.example/pic/{media_id}" if kind == "image" else "",
                            file_name=filename)
        self.dispatcher.feed_update(parse_update(xml))
        return "\n".join(self.replies(userid)[before:])

    def pledge(self, userid: str = "li") -> None:
        for text in LI_PLEDGE:
            reply = self.type(userid, text)
        assert "已提交" in reply or "公开" in reply, reply


def progress(engine) -> list[PledgeProgress]:
    with Session(engine) as session:
        return list(session.scalars(select(PledgeProgress).order_by(PledgeProgress.id)))


def photos(engine) -> list[ProgressPhoto]:
    with Session(engine) as session:
        return list(session.scalars(select(ProgressPhoto).order_by(ProgressPhoto.id)))


def chat_id(engine, branch_id: int = 1) -> str:
    with Session(engine) as session:
        return session.get(Branch, branch_id).chat_id


def group_rows(engine, chat: str) -> list[Outbox]:
    with Session(engine) as session:
        rows = session.scalars(select(Outbox).where(Outbox.endpoint == "appchat/send").order_by(Outbox.id))
        return [r for r in rows if r.payload["chatid"] == chat]


async def test_a_member_reports_with_a_photo_and_a_caption_and_the_group_gets_both(
        settings, engine, emulator, campaign, aiohttp_server):
    """End to end: the phone's callbacks to the bot on a real port, the bot's own fetcher and sender,
    media/get, media/upload and appchat/send over HTTP."""
    Member(engine, emulator).pledge()
    server = await aiohttp_server(build_app(settings, engine))
    emulator.connect_bot(url=str(server.make_url("/wecom/callback")), token=TOKEN, aes_key=AES_KEY, retry_after=2.0)
    said = lambda words: any(words in t for t in emulator.texts("li"))  # noqa: E731

    await emulator.say("li", "/践诺")
    assert await eventually(lambda: said("报告哪一项"))
    await emulator.say("li", "1")
    assert await eventually(lambda: said("也可以先发一张照片"))
    await emulator.send_media("li", "image", PNG, content_type="image/png")
    assert await eventually(lambda: said("收到第1张照片") and said("给照片配一句话"))
    await emulator.say("li", CAPTION)
    assert await eventually(lambda: said("百分之多少"))
    await emulator.say("li", "80")
    assert await eventually(lambda: said("已记录"))
    assert "支部群" in emulator.texts("li")[-1]

    [report] = progress(engine)
    assert (report.text, report.percent, report.userid) == (CAPTION, 80, "li")
    group = next(c for c in emulator.chats.values() if c.chatid == chat_id(engine))
    posted = lambda kind: [m for m in group.messages if m["sender"] == "app" and m["msgtype"] == kind]  # noqa: E731
    assert await eventually(lambda: posted("image"), timeout=15)
    [text] = [m["text"]["content"] for m in posted("text") if CAPTION in m["text"]["content"]]
    assert "李娜" in text and "每周听一节课" in text and "约 80%" in text
    assert emulator.media[posted("image")[0]["image"]["media_id"]][1] == PNG
    captioned = next(i for i, m in enumerate(group.messages) if m["msgtype"] == "text" and CAPTION in m["text"]["content"])
    assert group.messages.index(posted("image")[0]) > captioned  # the text first, then its photo
    [photo] = photos(engine)
    assert photo.progress_id == report.id and photo.file_status == "kept"
    assert photo.data == PNG and photo.sha256 == hashlib.sha256(PNG).hexdigest() and photo.size == len(PNG)


async def test_a_photo_sent_first_or_after_the_text_joins_the_report(settings, engine, emulator, campaign):
    member, fetching = Member(engine, emulator), Fetching(settings, engine)
    member.pledge()
    member.type("li", "/践诺")
    got = member.photo("li")  # before the item is chosen: kept in the form, the question asked again
    assert "收到第1张照片" in got and "报告哪一项" in got
    caption = member.type("li", "1")
    assert "给照片配一句话" in caption and "跳过" in caption  # the caption may be skipped
    assert "百分之多少" in member.type("li", "跳过")
    assert "收到第2张照片" in member.photo("li")
    assert "收到第3张照片" in (again := member.photo("li")) and "百分之多少" in again  # the form waits at its step
    saved = member.type("li", "跳过")
    assert "已记录" in saved and "3 张照片" in saved and "支部群" in saved
    [report] = progress(engine)
    assert report.text == "" and report.percent is None
    assert [p.progress_id for p in photos(engine)] == [report.id] * 3
    [post] = [r for r in group_rows(engine, chat_id(engine)) if r.idem_key.startswith("progress:")]
    assert "李娜" in post.payload["text"]["content"] and "3 张照片" in post.payload["text"]["content"]
    await fetching.run()
    images = [r for r in group_rows(engine, chat_id(engine)) if r.payload["msgtype"] == "image"]
    assert [r.payload["image"] for r in images] == [{"photo": p.id} for p in photos(engine)]

    # A text typed, then a photo at the percent step: it joins the report (a phone sends them apart).
    member.type("li", "/践诺")
    member.type("li", "1")
    assert "百分之多少" in member.type("li", CAPTION)
    assert "收到第1张照片" in member.photo("li") and "百分之多少" in member.replies("li")[-1]
    assert "1 张照片" in member.type("li", "60")
    assert progress(engine)[-1].text == CAPTION and photos(engine)[-1].progress_id == progress(engine)[-1].id


async def test_a_text_only_report_is_not_posted_at_once(settings, engine, emulator, campaign):
    """As before: a report without a photo waits for the periodic check-in's summary."""
    member = Member(engine, emulator)
    member.pledge()
    before = len(group_rows(engine, chat_id(engine)))
    for text in ("/践诺", "1", CAPTION):
        member.type("li", text)
    assert "定期在支部群里公开" in member.type("li", "50")
    assert len(group_rows(engine, chat_id(engine))) == before and photos(engine) == []


async def test_a_file_in_the_progress_form_gets_a_kind_answer_and_the_form_waits(settings, engine, emulator, campaign):
    member = Member(engine, emulator)
    member.pledge()
    member.type("li", "/践诺")
    member.type("li", "1")
    answer = member.photo("li", DOCX, kind="file", filename="总结.docx")
    assert "文件" in answer and "照片" in answer and "做了什么" in answer  # what it takes, then the question again
    assert photos(engine) == [] and progress(engine) == []
    assert "百分之多少" in member.type("li", CAPTION)


async def test_at_most_nine_photos_the_tenth_is_declined_kindly(settings, engine, emulator, campaign):
    member = Member(engine, emulator)
    member.pledge()
    member.type("li", "/践诺")
    member.type("li", "1")
    for n in range(1, 10):
        assert f"收到第{n}张照片" in member.photo("li")
    assert "最多" in member.photo("li")
    member.type("li", CAPTION)
    member.type("li", "跳过")
    assert len(photos(engine)) == 9


def _report_with_photos(member: Member, count: int = 1, caption: str = CAPTION) -> str:
    """li pledges, then reports on the first item with `count` photos and a caption (or 跳过), the
    percentage skipped; the answer to the report."""
    member.pledge()
    for text in ("/践诺", "1"):
        member.type("li", text)
    for _ in range(count):
        member.photo("li")
    member.type("li", caption)
    return member.type("li", "跳过")


async def test_a_photo_that_cannot_be_fetched_leaves_the_report_and_the_member_is_asked_again(
        settings, engine, emulator, campaign):
    member, fetching = Member(engine, emulator), Fetching(settings, engine)
    _report_with_photos(member)
    emulator.media.clear()  # gone from the platform (40007)
    await fetching.run()
    [photo] = photos(engine)
    assert photo.file_status == "lost" and photo.data is None and "40007" in photo.fetch_error
    asked = member.replies("li")[-1]
    assert "照片" in asked and "没能保存" in asked and "/践诺" in asked and "麻烦你" in asked
    assert progress(engine)[0].text == CAPTION  # the report stays
    assert not [r for r in group_rows(engine, chat_id(engine)) if r.payload["msgtype"] == "image"]
    await fetching.run()
    assert sum("没能保存" in r for r in member.replies("li")) == 1


async def test_a_photo_whose_download_fails_is_tried_again_after_its_backoff_and_then_posted(
        settings, engine, emulator, campaign):
    settings = make_settings(settings.database_url, settings.api_base, retry_base=60.0, retry_cap=600.0)
    member, fetching = Member(engine, emulator), Fetching(settings, engine)
    _report_with_photos(member)
    images = lambda: [r for r in group_rows(engine, chat_id(engine)) if r.payload["msgtype"] == "image"]  # noqa: E731
    emulator.fail("media/get", Fault(status=502))
    await fetching.run()
    [photo] = photos(engine)
    assert photo.file_status == "fetching" and photo.fetch_attempts == 1 and "502" in photo.fetch_error
    assert not images()
    await fetching.run()  # not due yet: the next try waits its backoff
    assert photos(engine)[0].fetch_attempts == 1
    fetching.later(60)  # the first retry comes after 30 to 60 s (retry_base, with jitter)
    await fetching.run()
    [photo] = photos(engine)
    assert photo.file_status == "kept" and photo.data == PNG and emulator.count("media/get") == 2
    assert len(images()) == 1
    assert not any("没能保存" in r for r in member.replies("li"))


async def test_a_photo_past_what_one_download_returns_is_not_kept_and_the_member_is_told(
        settings, engine, emulator, campaign, monkeypatch):
    monkeypatch.setattr(document_files, "MAX_BYTES", 100)
    member, fetching = Member(engine, emulator), Fetching(settings, engine)
    _report_with_photos(member)
    await fetching.run()
    [photo] = photos(engine)
    assert photo.file_status == "too_large" and photo.data is None
    told = member.replies("li")[-1]
    assert "第1张照片" in told and "超过" in told and "压缩" in told and "/践诺" in told
    assert progress(engine)[0].text == CAPTION  # the report stays, its text published
    assert not [r for r in group_rows(engine, chat_id(engine)) if r.payload["msgtype"] == "image"]
    await fetching.run()  # settled: never tried again, nobody told twice
    assert sum("超过" in r for r in member.replies("li")) == 1


async def test_the_progress_export_lists_reports_and_writes_the_photos_beside_it(
        settings, engine, emulator, campaign, tmp_path, db_url, monkeypatch, capsys):
    member, fetching = Member(engine, emulator), Fetching(settings, engine)
    member.pledge()
    for text in ("/践诺", "1"):
        member.type("li", text)
    member.photo("li")
    member.type("li", CAPTION)
    member.type("li", "80")
    for text in ("/践诺", "1", "写了一篇听课反思", "跳过"):
        member.type("li", text)
    await fetching.run()
    [photo] = photos(engine)

    out = tmp_path / "archive" / "践诺.xlsx"
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["export", "progress", "--campaign", campaign, "--out", str(out)]) == 0
    folder = tmp_path / "archive" / "践诺_文件"
    said = capsys.readouterr().out
    assert "已导出 2 行" in said and str(folder) in said
    sheet = load_workbook(out).active
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, [c.value for c in row])) for row in sheet.iter_rows(min_row=2)]
    with_photo = next(r for r in rows if r["落实情况"] == CAPTION)
    assert with_photo["支部"] == "第一党支部" and with_photo["报告人"] == "李娜" and with_photo["进度"] == "80%"
    assert with_photo["照片保存"] == "已保存" and with_photo["SHA-256"] == hashlib.sha256(PNG).hexdigest()
    assert (tmp_path / "archive" / with_photo["保存的文件"]).read_bytes() == PNG
    assert with_photo["保存的文件"].startswith("践诺_文件/")
    text_only = next(r for r in rows if r["落实情况"] == "写了一篇听课反思")
    assert text_only["照片保存"] is None and text_only["保存的文件"] is None
    assert [p.name for p in folder.iterdir()] == [with_photo["保存的文件"].split("/")[1]]
    assert re.fullmatch(rf"{photo.progress_id}-1-.+\.png", with_photo["保存的文件"].split("/")[1])


async def test_a_branch_report_takes_photos_too_and_posts_them_after_its_text(settings, engine, emulator, campaign):
    from tests.test_pledge_form import ZHANG_BRANCH_PLEDGE

    secretary, fetching = Member(engine, emulator), Fetching(settings, engine)
    for text in ZHANG_BRANCH_PLEDGE:
        secretary.type("zhang", text)
    secretary.type("zhang", "/践诺 支部")
    secretary.type("zhang", "1")
    assert "给照片配一句话" in secretary.photo("zhang")
    secretary.type("zhang", "召开组织生活会一次")
    saved = secretary.type("zhang", "跳过")
    assert "连同 1 张照片" in saved and "公开到支部群" in saved
    [post] = [r for r in group_rows(engine, chat_id(engine)) if r.idem_key.startswith("branch_progress:")]
    assert "召开组织生活会一次" in post.payload["text"]["content"] and "附 1 张照片" in post.payload["text"]["content"]
    await fetching.run()
    [photo] = photos(engine)
    [image] = [r for r in group_rows(engine, chat_id(engine)) if r.payload["msgtype"] == "image"]
    assert image.payload["image"] == {"photo": photo.id} and image.id > post.id


# -- a photo sent soon after the report was saved joins it --------------------------------------------
def _minutes_after_the_report(engine, minutes: float) -> int:
    return int(progress(engine)[-1].reported_at + minutes * 60)


async def test_a_photo_sent_soon_after_a_report_in_words_joins_it_and_both_go_to_the_group(
        settings, engine, emulator, campaign):
    member, fetching = Member(engine, emulator), Fetching(settings, engine)
    member.pledge()
    for text in ("/践诺", "1", CAPTION):
        member.type("li", text)
    saved = member.type("li", "50")
    assert "定期在支部群里公开" in saved  # words alone: kept, not posted
    assert "还有照片的话，30 分钟内直接发来" in saved
    assert not [r for r in group_rows(engine, chat_id(engine)) if r.idem_key.startswith("progress:")]

    told = member.photo("li", at=_minutes_after_the_report(engine, 5))
    assert "加到了你刚才报告的践诺" in told and "【带头学习提高】" in told and "第1张" in told and "支部群" in told
    [report], [photo] = progress(engine), photos(engine)
    assert (photo.progress_id, photo.seq, photo.chat_id) == (report.id, 1, chat_id(engine))
    [post] = [r for r in group_rows(engine, chat_id(engine)) if r.idem_key.startswith("progress:")]
    assert CAPTION in post.payload["text"]["content"] and "附照片，随后发出" in post.payload["text"]["content"]
    await fetching.run()
    [image] = [r for r in group_rows(engine, chat_id(engine)) if r.payload["msgtype"] == "image"]
    assert image.payload["image"] == {"photo": photo.id} and image.id > post.id


async def test_a_later_photo_follows_the_reports_own_and_its_words_are_not_posted_again(
        settings, engine, emulator, campaign):
    member, fetching = Member(engine, emulator), Fetching(settings, engine)
    _report_with_photos(member)
    await fetching.run()
    assert "第2张" in member.photo("li", at=_minutes_after_the_report(engine, 29))
    assert [(p.seq, p.chat_id) for p in photos(engine)] == [(1, chat_id(engine)), (2, chat_id(engine))]
    await fetching.run()
    rows = group_rows(engine, chat_id(engine))
    assert len([r for r in rows if r.idem_key.startswith("progress:")]) == 1
    assert [r.payload["image"] for r in rows if r.payload["msgtype"] == "image"] == \
        [{"photo": p.id} for p in photos(engine)]


async def test_a_photo_long_after_the_report_starts_nothing_and_says_how(settings, engine, emulator, campaign):
    member = Member(engine, emulator)
    _report_with_photos(member)
    told = member.photo("li", at=_minutes_after_the_report(engine, 31))
    assert "/践诺" in told and "加到" not in told
    assert len(photos(engine)) == 1


def test_looking_for_the_report_a_photo_joins_uses_the_index(engine):
    """Asked for every photo no form takes: one probe, not a scan of every report ever made."""
    plan = index_plan(engine, progress_photos.recent_report_query("li", 1.8e9))
    assert "ix_pledge_progress_userid_reported_at" in plan, plan


async def test_a_later_photo_past_nine_is_declined_kindly(settings, engine, emulator, campaign):
    member = Member(engine, emulator)
    assert "还有照片" not in _report_with_photos(member, count=9)  # it has its nine
    told = member.photo("li", at=_minutes_after_the_report(engine, 1))
    assert "没有加上" in told and "9 张" in told and "/践诺" in told
    assert len(photos(engine)) == 9


async def test_a_later_photo_joins_a_branch_report_whose_words_went_to_the_group_when_saved(
        settings, engine, emulator, campaign):
    from tests.test_pledge_form import ZHANG_BRANCH_PLEDGE

    secretary = Member(engine, emulator)
    for text in (*ZHANG_BRANCH_PLEDGE, "/践诺 支部", "1", "召开组织生活会一次"):
        secretary.type("zhang", text)
    assert "30 分钟内直接发来" in secretary.type("zhang", "跳过")
    assert "第1张" in secretary.photo("zhang", at=_minutes_after_the_report(engine, 10))
    [photo] = photos(engine)
    assert photo.chat_id == chat_id(engine) and photo.progress_id == progress(engine)[-1].id
    rows = group_rows(engine, chat_id(engine))
    assert len([r for r in rows if r.idem_key.startswith("branch_progress:")]) == 1
    assert not [r for r in rows if r.idem_key.startswith("progress:")]


# -- photos reach the group in the order sent, whatever order they are fetched in ----------------------
def _three_photos_claimed(engine, emulator):
    """li's report with three photos, their fetches claimed (as the fetcher does, all at once)."""
    from bot.document_files import PHOTOS
    from storage.db import transaction

    _report_with_photos(Member(engine, emulator), count=3, caption="跳过")
    with transaction(engine) as session:
        return PHOTOS, sorted(PHOTOS.claim(session, 0.0 + 10**10, 10, 60.0), key=lambda f: f.id)


def _posted_photos(engine) -> list[int]:
    with Session(engine) as session:
        rows = session.scalars(select(Outbox).where(Outbox.endpoint == "appchat/send").order_by(Outbox.id))
        return [r.payload[r.payload["msgtype"]]["photo"] for r in rows if r.payload["msgtype"] in ("image", "file")]


def test_photos_fetched_out_of_order_are_posted_in_the_order_sent(engine, emulator, campaign):
    """The fetcher downloads a report's photos side by side, so the third can be kept first: the group
    would see them shuffled. They are posted together, in the order sent, once none is still fetching."""
    from storage.db import transaction

    store, fetches = _three_photos_claimed(engine, emulator)
    for fetch in reversed(fetches):  # kept last first
        assert _posted_photos(engine) == []  # not while an earlier one is still on its way
        with transaction(engine) as session:
            store.keep(session, fetch, "p.png", "image/png", PNG, 1.0)
    assert _posted_photos(engine) == [f.id for f in fetches]


def test_a_lost_photo_does_not_hold_back_the_others(engine, emulator, campaign):
    from storage.db import transaction

    store, (first, second, third) = _three_photos_claimed(engine, emulator)
    for fetch in (third, first):
        with transaction(engine) as session:
            store.keep(session, fetch, "p.png", "image/png", PNG, 1.0)
    assert _posted_photos(engine) == []
    with transaction(engine) as session:
        store.give_up(session, second, "lost", "40007")
    assert _posted_photos(engine) == [first.id, third.id]


def test_two_photos_kept_at_the_same_moment_are_both_posted(engine, emulator, campaign):
    """Two fetches of one report finishing together: each transaction keeps its photo and looks for the
    other; neither may miss the other (nothing posted) — the report's row is locked while it looks."""
    import threading

    from storage.db import transaction

    store, (first, second, third) = _three_photos_claimed(engine, emulator)
    with transaction(engine) as session:
        store.keep(session, first, "p.png", "image/png", PNG, 1.0)
    done = threading.Event()

    def keep_third():
        with transaction(engine) as session:
            store.keep(session, third, "p.png", "image/png", PNG, 1.0)
        done.set()

    with transaction(engine) as session:
        store.keep(session, second, "p.png", "image/png", PNG, 1.0)
        worker = threading.Thread(target=keep_third)
        worker.start()
        assert not done.wait(0.5)  # waits for this transaction: one of the two sees both kept
    worker.join(10)
    assert done.is_set() and _posted_photos(engine) == [first.id, second.id, third.id]


def test_a_photo_sent_as_the_form_is_parked_is_said_not_taken(engine, emulator, campaign):
    """A photo that arrives after the form was idle too long parks the form, as any message does; the
    member is told the photo was not taken and how to go on, not left believing it joined the report."""
    from bot.dispatch import Dispatcher
    from bot.handlers import ROUTERS

    member = Member(engine, emulator)
    member.pledge()
    member.type("li", "/践诺")
    member.type("li", "1")
    member.dispatcher = Dispatcher(engine, ROUTERS, form_idle_seconds=0)  # the form is idle now
    said = member.photo("li")
    assert "已先帮你保存" in said and "没有收下" in said and "/继续" in said
    assert photos(engine) == []
