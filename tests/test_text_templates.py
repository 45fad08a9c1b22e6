"""No markdown marks in a message sent as plain text (issue 19, finding 5: the poll announcement and
the /评议 情况 reply showed "**…**"). A text message shows its content as typed, so `**`, a `>` quote,
a `#` heading, a link or a <font> tag would reach the phone as they are.

Which templates go out as markdown is read from the code itself: a template rendered inside a call
that passes markdown=True, or into the variable such a call sends, or handed by name to a function
that sends it so. Every other template under message_templates/ is text (or a part of one: the
form's steps and notes), and each of its branches is read, not only the one a sample would take."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from jinja2 import nodes

from bot.texts import TEMPLATE_DIR, _environment

ROOT = Path(__file__).resolve().parents[1]
# What WeChat Work's markdown reads as formatting (90236, 支持的markdown语法): bold, a link, a <font>
# colour, inline code, and a heading or a quote at the start of a line.
MARKS = re.compile(r"\*\*|\]\(|<font|`|(?:^|\n)[ \t]*(?:#{1,6} |> )")


def _calls_markdown(call: ast.Call) -> bool:
    return any(k.arg == "markdown" and isinstance(k.value, ast.Constant) and k.value.value is True
               for k in call.keywords)


def _names(node: ast.AST) -> set[str]:
    """Template names written as string constants anywhere under `node`."""
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and (TEMPLATE_DIR / f"{n.value}.j2").is_file()}


def _sent_text(function: ast.FunctionDef, call: ast.Call) -> list[ast.AST]:
    """What a markdown call sends: its own arguments, and whatever the function assigns to a variable
    it passes (text=text, set in an if/elif chain)."""
    passed = {a.id for a in [*call.args, *(k.value for k in call.keywords)] if isinstance(a, ast.Name)}
    assigned = [n.value for n in ast.walk(function) if isinstance(n, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id in passed for t in n.targets)]
    return [*call.args, *(k.value for k in call.keywords), *assigned]


def markdown_templates() -> set[str]:
    found: set[str] = set()
    relays: set[str] = set()  # functions that render a template named by their caller and send it as markdown
    trees = [ast.parse(path.read_text(encoding="utf-8")) for path in (ROOT / "bot").rglob("*.py")]
    for tree in trees:
        for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
            params = {a.arg for a in function.args.args + function.args.kwonlyargs}
            for call in (n for n in ast.walk(function) if isinstance(n, ast.Call) and _calls_markdown(n)):
                for part in _sent_text(function, call):
                    found |= _names(part)
                    renders = [n for n in ast.walk(part) if isinstance(n, ast.Call) and n.args
                               and isinstance(n.args[0], ast.Name) and n.args[0].id in params]
                    relays |= {function.name} if renders else set()
    for tree in trees:
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            name = getattr(call.func, "attr", getattr(call.func, "id", None))
            if name in relays:
                found |= set().union(*(_names(a) for a in call.args)) if call.args else set()
    return found


def _literal_text(name: str) -> str:
    """Every piece of text the template can output by itself, in every branch: its text between tags
    and its string constants (what `{{ "**" }}` would print)."""
    tree = _environment().parse((TEMPLATE_DIR / name).read_text(encoding="utf-8"))
    data = [n.data for n in tree.find_all(nodes.TemplateData)]
    consts = [n.value for n in tree.find_all(nodes.Const) if isinstance(n.value, str)]
    return "\n".join(data + consts)


MARKDOWN = markdown_templates()
TEXT = sorted(str(p.relative_to(TEMPLATE_DIR)) for p in TEMPLATE_DIR.rglob("*.j2")
              if p.parent.name != "cli" and str(p.relative_to(TEMPLATE_DIR))[:-3] not in MARKDOWN)


def test_the_templates_sent_as_markdown_are_found():
    """The reading of the code finds the group posts it knows of (else the next test proves nothing)."""
    assert {"poll_result", "poll_announced", "phase_start", "task_reminder", "rating_card", "pledge_published",
            "branch_pledge_published", "progress_summary"} <= MARKDOWN
    assert not {"poll_status", "poll_closed_issuer", "vote_late", "form_step"} & MARKDOWN


@pytest.mark.parametrize("name", TEXT)
def test_a_template_sent_as_text_has_no_markdown_marks(name):
    marks = MARKS.findall(_literal_text(name))
    assert not marks, f"{name} is sent as text and would show {marks} as typed"


def test_the_check_finds_what_the_issue_saw():
    assert MARKS.search("**第一党支部评议**") and MARKS.search("说明\n> 引用") and MARKS.search("# 标题")
    assert not MARKS.search("【第一党支部评议】编号 3\n· 已投 2/10 人（20%）")
