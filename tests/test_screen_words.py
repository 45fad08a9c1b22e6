"""Nothing a developer would write on the screen (issue 19, finding 7): the rating card posted to the
group ended "规则：…·f6efecd7" (a rule version hash), /我 showed "其他：有职 是" (a raw roster column),
and percentages were rounded three ways (83.33 %, 87.5 %, 80.0 %). One rule for percentages now, in
one filter (bot.texts.percent, `pct` in templates), and no template may print a rate another way.
The rating card's test is in tests/test_rating_command.py, with its fixtures."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.texts import TEMPLATE_DIR, percent
from tests.test_dispatch import feed, replies


# -- one rule for percentages -------------------------------------------------------------------

@pytest.mark.parametrize("value,shown", [
    (13 / 15, "86.7%"), (5 / 6, "83.3%"), (7 / 8, "87.5%"),  # one decimal, rounded half up
    (0.8, "80%"), (12 / 15, "80%"), (0.9, "90%"), (0.95, "95%"), (1, "100%"), (0, "0%"),  # a whole one bare
    (43 / 50, "86%"), (0.6, "60%"), (1 / 3, "33.3%"), (2 / 3, "66.7%"), (0.0005, "0.1%"),
    (1999 / 2500, "79.9%"),  # 79.96 %: never shown as reaching 80 %, a line it misses
    (2999 / 3000, "99.9%"),  # nor as 100 % while one ballot was not satisfied
    (None, "—"),
])
def test_one_rule_for_every_percentage(value, shown):
    assert percent(value) == shown


def _templates() -> list[Path]:
    return sorted(TEMPLATE_DIR.rglob("*.j2"))


def _without_comments(source: str) -> str:
    return re.sub(r"\{#.*?#\}", "", source, flags=re.S)


TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)


def raw_percentages(source: str) -> list[str]:
    """Where a template makes a percentage without the pct filter: a value printed with a % after it,
    an expression multiplying by 100, or a number written with %. A command example a person copies
    (a line starting with "/", e.g. /参与率 92%) is what they type, not a rate shown to them."""
    source = _without_comments(source)
    found = [m[0] for m in TAG.finditer(source) if re.search(r"\*\s*100\b", m[0])]
    found += re.findall(r"\}\}\s*[%％]", source)
    text = TAG.sub("\x00", source)
    found += [line for line in text.splitlines() if re.search(r"\d\s*[%％]", line) and not line.lstrip().startswith("/")]
    return found


def test_no_template_shows_a_percentage_without_the_filter():
    offending = {path.relative_to(TEMPLATE_DIR).as_posix(): found for path in _templates()
                 if (found := raw_percentages(path.read_text(encoding="utf-8")))}
    assert offending == {}


@pytest.mark.parametrize("source", [
    "满意率 {{ r.rate * 100 }}%", "（约 {{ progress.percent }}%）", "{{ num(x * 100) }}", "需达到 90%",
    "{% set shown = rate*100 %}{{ shown }}",
])
def test_the_walk_finds_a_raw_percentage(source):
    assert raw_percentages(source)


@pytest.mark.parametrize("source", ["满意率 {{ r.rate | pct }}", "/参与率 92%", "{{ \"%.2f\" | format(x) }} 分"])
def test_the_walk_lets_the_filter_and_typed_examples_be(source):
    assert raw_percentages(source) == []


# -- /我 ------------------------------------------------------------------------------------------

def test_me_says_post_holder_in_words(engine, rostered):
    from bot.dispatch import Dispatcher
    from bot.handlers import ROUTERS

    dispatcher = Dispatcher(engine, ROUTERS)
    feed(dispatcher, "li", "/我")  # 有职 是
    feed(dispatcher, "qian", "/我")  # 有职 empty
    [li] = replies(engine, "li")
    [qian] = replies(engine, "qian")
    assert "有职党员" in li and "有职 是" not in li and "其他" not in li
    assert "有职" not in qian and "其他" not in qian


def test_me_shows_other_roster_columns_as_label_and_value(engine, tmp_path):
    from bot.dispatch import Dispatcher
    from bot.handlers import ROUTERS
    from bot.roster import import_roster

    roster = tmp_path / "roster.csv"
    roster.write_text("userid,name,branch,role,有职,职务\nli,李娜,第一党支部,党员,否,教研组长\n", encoding="utf-8")
    import_roster(engine, roster)
    feed(Dispatcher(engine, ROUTERS), "li", "/我")
    [li] = replies(engine, "li")
    assert "职务：教研组长" in li and "有职" not in li and "否" not in li
