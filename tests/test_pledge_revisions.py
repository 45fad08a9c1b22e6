"""/修改 numbers its revisions from one (issue 19, finding 8): the pledge as first submitted is no
revision, the first edit publishes "（第 1 次修改）", the second "（第 2 次修改）"; a branch's pledge
alike. On SQLite and PostgreSQL."""
from __future__ import annotations

from bot.texts import render
from tests.test_pledge_form import LI_PLEDGE, Phone, campaign, cfg, rows  # noqa: F401 (fixtures)

KEEP_EVERYTHING = ("/修改 承诺", *["不变"] * 6, "1")  # an edit that keeps each answer of LI_PLEDGE


def _headlines(engine) -> list[str]:
    return [r.payload["markdown"]["content"].splitlines()[0] for r in rows(engine, "pledge:")]


def test_the_first_edit_is_revision_one_and_the_second_revision_two(engine, campaign):
    li = Phone(engine, "li")
    li.say_all(LI_PLEDGE)
    li.say_all(KEEP_EVERYTHING)
    li.say_all(KEEP_EVERYTHING)
    first, once, twice = _headlines(engine)
    assert "修改" not in first
    assert once.endswith("（第 1 次修改）") and twice.endswith("（第 2 次修改）")


def test_a_branch_pledges_revisions_count_alike():
    def headline(version: int) -> str:
        return render("branch_pledge_published", branch="第一党支部", title="四定一承诺", version=version,
                      items=[]).splitlines()[0]

    assert "修改" not in headline(1)
    assert headline(2).endswith("（第 1 次修改）") and headline(3).endswith("（第 2 次修改）")
