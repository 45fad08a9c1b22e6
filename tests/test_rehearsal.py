"""`xianfeng campaign rehearse` on every shipped file (issue 17): the whole campaign on a virtual clock
with the made-up roster, everyone on time (and once with a late share).

Each file is rehearsed once per test session (about 3-15 s each on this machine; seed000, 2010-2012,
takes about 13 s) and the tests read the result. Where the rehearsal shows a bug in the bot, the
assertion is marked xfail(strict=True) with the finding: these are what the planners need to know.
"""
from __future__ import annotations

from functools import cache

import pytest
from openpyxl import load_workbook

from bot.campaigns import load_campaign_file
from bot.config import Settings
from bot.rehearsal import Rehearsal, rehearse, submittable, words, write_report
from tests.test_campaign_files import CAMPAIGNS, FILES



@cache
def rehearsed(name: str, late: int = 0) -> Rehearsal:
    return rehearse(load_campaign_file(CAMPAIGNS / f"{name}.yaml"), Settings(), late_percent=late)


@pytest.mark.parametrize("name", FILES)
def test_every_task_one_can_submit_is_fulfilled_once_by_its_own_submission(name):
    result = rehearsed(name)
    done_state = words()["states"]["done"]
    final = result.ledgers[-1].lines
    assert final and all(line.state == done_state for line in final if line.kind != "document"
                         and (line.kind != "progress" or not line.subject.startswith("branch:")))
    assert len(result.submissions) == len(set(result.submissions)) >= 3
    # ratings also record each branch's rating round; the ledger's party is the committee
    ledger_done = {(key, subject) for key, subject in result.done
                   if not (subject.startswith("branch:") and _kind(result, key) == "rating")}
    assert ledger_done == set(result.submissions)


def _kind(result: Rehearsal, key: str) -> str:
    return next(line.kind for ledger in result.ledgers for line in ledger.lines if line.task_key == key)


@pytest.mark.parametrize("name", FILES)
def test_no_digest_reminder_or_escalation_names_a_task_done_or_not_yet_started(name):
    result = rehearsed(name)
    nags = [m for m in result.messages if m.category in {"digest", "reminder", "escalation"}]
    assert nags
    assert [(m.moment, m.recipients, m.stale) for m in nags if m.stale] == []


@pytest.mark.parametrize("name", FILES)
def test_every_scheduled_job_runs_without_failing(name):
    """It found storage.nudges.count failing whenever someone was reminded twice in a week (the check-in,
    then every digest of that week rolled back): tests/test_nudges.py."""
    assert rehearsed(name).problems == []


@pytest.mark.parametrize("name", FILES)
def test_tasks_without_a_command_are_listed_not_faked(name):
    result = rehearsed(name)
    listed = {line.task for ledger in result.ledgers for line in ledger.lines
              if line.state == words()["states"]["no_command"]}
    assert listed and listed <= set(result.no_command)
    assert not any(key in {line.task_key for line in result.ledgers[-1].lines if line.task in listed}
                   for key, _subject in result.done)


def test_the_report_is_written_as_xlsx_and_as_html(tmp_path):
    result = rehearsed("seed002")
    h = words()["headers"]
    write_report(result, tmp_path / "r.xlsx")
    book = load_workbook(tmp_path / "r.xlsx")
    assert book.sheetnames[0] == h["timeline"] and len(book.sheetnames) == 1 + len(result.ledgers) + 1
    assert book[h["timeline"]].max_row == len(result.messages) + 1
    assert book[f"{h['ledger']}1"]["A2"].value == result.ledgers[0].phase
    write_report(result, tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert result.campaign in page and page.count("<tr>") >= len(result.messages)
    assert words()["categories"]["escalation"] in page and result.no_command[0] in page


def test_the_command_rehearses_a_file_and_says_what_it_wrote(tmp_path, capsys):
    from bot.cli import main

    out = tmp_path / "seed002.html"
    assert main(["campaign", "rehearse", str(CAMPAIGNS / "seed002.yaml"), "--late", "30", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert str(out) in said and "30%" in said and out.stat().st_size > 0


def test_with_a_late_share_the_late_parties_are_escalated_and_stay_open_at_their_phase_end():
    on_time, late = rehearsed("seed002"), rehearsed("seed002", 30)
    escalations = lambda r: [m for m in r.messages if m.category == "escalation"]  # noqa: E731
    assert len(escalations(late)) > len(escalations(on_time))
    first = late.ledgers[0]
    open_word = words()["states"]["open"]
    assert any(line.state == open_word and line.kind != "document" for line in first.lines)


@pytest.mark.xfail(strict=True, reason=(
    "two left with --late 30 on seed002: a branch poll issued after its phase is credited to the current "
    "phase's poll task (the poll form picks a current task before a late one without asking), and a late "
    "/定级 confirmation records the branches' rows while the ledger counts 'committee' as the rating's party. "
    "(A late 党组织自评 is now asked about: an earlier window's unfulfilled task is offered as late.)"))
def test_a_late_submission_after_its_phase_fulfils_its_own_task():
    result = rehearsed("seed002", 30)
    assert set(result.submissions) - {(k, s) for k, s in result.done} == set()


def test_submittable_kinds():
    from storage.models import CampaignTask

    def task(kind, audience):
        return CampaignTask(kind=kind, audience=audience)
    assert submittable(task("progress", "members")) and not submittable(task("progress", "branches"))
    assert submittable(task("rating", "committee")) and not submittable(task("document", "branches"))
