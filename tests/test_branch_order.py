"""Branches are listed as people count them (issue 19, finding 8): 第一, 第二, …, 第十, 第十一, not 第一, 第三,
第二, 第四 (Unicode order), in /进度, /名单, /定级, the committee's escalations and the exports. On SQLite
and PostgreSQL."""
from __future__ import annotations

import random
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlmodel import Session

from bot.campaigns import load_campaign_text, save_campaign
from bot.dispatch import Dispatcher
from bot.exports import export
from bot.handlers import ROUTERS
from bot.scheduler.jobs import run_job
from bot.wecom.updates import parse_update
from storage import people
from storage.counting import branch_sort_key, chinese_number
from storage.db import transaction
from storage.models import CampaignTask, Outbox, Person
from storage.pledges import add_pledge
from tests.conftest import campaign_yaml, make_settings, text_xml

TZ = ZoneInfo("Asia/Shanghai")
NUMERALS = "一 二 三 四 五 六 七 八 九 十 十一 十二".split()
COUNTED = [f"第{n}党支部" for n in NUMERALS]  # the order a bureau lists them in
CAMPAIGN = campaign_yaml("排序测试", """
phases:
  - name: 公开承诺
    start: 2026-03-02
    end: 2026-04-30
    tasks:
      - {id: member-pledge, title: 党员公开承诺, kind: pledge, audience: members, due: 2026-03-20}
""")


@pytest.mark.parametrize("text,number", [("一", 1), ("十", 10), ("十一", 11), ("十二", 12), ("二十", 20),
                                         ("二十一", 21), ("两", 2), ("一百零五", 105), ("12", 12)])
def test_chinese_numbers(text, number):
    assert chinese_number(text) == number


def test_first_to_twelfth_in_counting_order_whatever_order_they_come_in():
    shuffled = COUNTED[:]
    random.Random(19).shuffle(shuffled)
    assert sorted(shuffled) != COUNTED  # code-point order is not how people count
    assert sorted(shuffled, key=branch_sort_key) == COUNTED


def test_mixed_names_numbered_first_by_number_then_the_others_by_name():
    names = ["机关党支部", "二支部", "第3党支部", "实验小学党支部", "县第十中学党支部", "一支部", "第一党支部"]
    assert sorted(names, key=branch_sort_key) == [
        "一支部", "第一党支部", "二支部", "第3党支部", "县第十中学党支部", "实验小学党支部", "机关党支部"]


@pytest.fixture
def town(engine, tmp_path):
    """Thirteen branches imported in a scrambled order, each with a secretary and a member who has
    not pledged; a committee member; the pledge task of a campaign."""
    from bot.roster import import_roster

    scrambled = COUNTED + ["机关党支部"]
    random.Random(8).shuffle(scrambled)
    lines = ["userid,name,branch,role", "boss,党委甲,,党委"]
    for n, name in enumerate(scrambled):
        lines += [f"s{n},书记{n},{name},支部书记", f"m{n},党员{n},{name},党员"]
    (tmp_path / "roster.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    import_roster(engine, tmp_path / "roster.csv")
    with transaction(engine) as session:
        save_campaign(session, load_campaign_text(CAMPAIGN), source_file="test")
    return engine


def _say(engine, userid: str, text: str, when: datetime) -> str:
    Dispatcher(engine, ROUTERS).feed_update(parse_update(text_xml(userid, text, create_time=int(when.timestamp()))))
    with Session(engine) as session:
        rows = session.scalars(select(Outbox).where(Outbox.idem_key.startswith("reply:")).order_by(Outbox.id))
        return [r.payload["text"]["content"] for r in rows if r.payload.get("touser") == userid][-1]


def _listed(text: str) -> list[str]:
    """The branch names that open lines of a reply, in order."""
    return re.findall(r"^(\S+?党支部)：", text, flags=re.M)


def test_storage_lists_branches_in_counting_order(town):
    with Session(town) as session:
        assert [b.name for b in people.branches(session)] == COUNTED + ["机关党支部"]
        assert [row["name"] for row in people.branch_overview(session)] == COUNTED + ["机关党支部"]


def test_committee_progress_and_roster_list_branches_in_counting_order(town):
    when = datetime(2026, 3, 10, 12, 0, tzinfo=TZ)
    assert _listed(_say(town, "boss", "进度", when)) == COUNTED + ["机关党支部"]
    assert _listed(_say(town, "boss", "/名单", when)) == COUNTED + ["机关党支部"]


def test_the_committees_escalation_lists_lagging_branches_in_counting_order(town, db_url):
    run_job("announcements", town, make_settings(db_url, "http://127.0.0.1:9/cgi-bin"),
            datetime(2026, 3, 21, 9, 30, tzinfo=TZ))
    with Session(town) as session:
        rows = session.scalars(select(Outbox).order_by(Outbox.id))
        escalation = next(r.payload["text"]["content"] for r in rows
                          if r.idem_key.startswith("overdue:") and r.payload.get("touser") == "boss")
    assert _listed(escalation) == COUNTED + ["机关党支部"]


def test_the_ledger_export_lists_a_tasks_branches_in_counting_order(town, tmp_path):
    out = tmp_path / "台账.xlsx"
    with Session(town) as session:
        assert export(session, what="ledger", campaign="排序测试", out=out) > 0
    branches = [row[0] for row in load_workbook(out).active.iter_rows(min_row=2, values_only=True)]
    assert list(dict.fromkeys(branches)) == COUNTED + ["机关党支部"]


def test_the_pledges_export_has_a_sheet_per_branch_in_counting_order(town, tmp_path):
    with transaction(town) as session:  # each member pledges, in the scrambled order of the roster
        task = session.scalars(select(CampaignTask)).one()
        for person in session.scalars(select(Person).where(Person.role == "member").order_by(Person.userid)):
            add_pledge(session, campaign_id=task.campaign_id, task_id=task.id, person=person, kind="member",
                       items=[{"standard": "带头学习提高", "what": "每周听一节课", "how": "记录", "by": "6月"}], at=0)
    out = tmp_path / "承诺.xlsx"
    with Session(town) as session:
        assert export(session, what="pledges", campaign="排序测试", out=out) > 0
    assert load_workbook(out).sheetnames == COUNTED + ["机关党支部"]


def test_the_committees_poll_form_offers_branches_in_counting_order(town):
    """/评议 asks the committee which branch first: its options are numbered in counting order."""
    question = _say(town, "boss", "/评议", datetime(2026, 3, 10, 12, 0, tzinfo=TZ))
    offered = re.findall(r"^\s*\d+[.、．]\s*(\S+党支部)", question, flags=re.M)
    assert offered == COUNTED + ["机关党支部"], question


def test_the_consoles_overview_and_ratings_list_branches_in_counting_order(town):
    from bot.console.views import Viewer, overview, ratings_page

    boss = Viewer(userid="boss", name="党委甲", role="committee", branch_id=None, branch="")
    with Session(town) as session:
        page = overview(session, boss, datetime(2026, 3, 10, tzinfo=TZ).date(), {})
        listed = [row["name"] for row in page.context["branches"]]
        assert listed == (COUNTED + ["机关党支部"])[:len(listed)] and len(listed) >= 10
        assert ratings_page(session, boss, datetime(2026, 3, 10, tzinfo=TZ).date(), {}).status == 200
