"""Template card rules as WeChat Work documents them, so a card the emulator accepts is one the
real service would accept too. Each check returns a problem description or None."""
from __future__ import annotations

import re
from typing import Any

CARD_TYPES = {"text_notice", "news_notice", "button_interaction", "vote_interaction", "multiple_interaction"}
INTERACTIVE = {"button_interaction", "vote_interaction", "multiple_interaction"}
TASK_ID = re.compile(r"^[0-9A-Za-z_\-@]{1,128}$")
# main_title.title 建议不超过36个字, main_title.desc 建议不超过44个字, an option 11, a button 10 (90236).
# "建议" (advised), and what the platform does past it is not documented: refused here, so nothing the
# bot sends relies on it.
TITLE_CHARS, DESC_CHARS, OPTION_TEXT_CHARS, BUTTON_TEXT_CHARS = 36, 44, 11, 10


def _too_long(text: Any, chars: int) -> bool:
    return not isinstance(text, str) or len(text) > chars


def _options(options: Any, most: int) -> str | None:
    if not isinstance(options, list) or not 1 <= len(options) <= most:
        return f"option_list needs 1 to {most} options"
    ids = [o.get("id") for o in options]
    if any(not i or len(str(i).encode()) > 128 for i in ids) or len(set(ids)) != len(ids):
        return "option ids must be present, unique and at most 128 bytes"
    if any(_too_long(o.get("text"), OPTION_TEXT_CHARS) for o in options):
        return f"option text is at most {OPTION_TEXT_CHARS} characters"
    return None


def _vote(card: dict[str, Any]) -> str | None:
    checkbox, submit = card.get("checkbox") or {}, card.get("submit_button") or {}
    if not checkbox.get("question_key"):
        return "checkbox.question_key is required"
    if not submit.get("key") or _too_long(submit.get("text"), BUTTON_TEXT_CHARS):
        return "submit_button needs a key and a text of at most 10 characters"
    return _options(checkbox.get("option_list"), 20)


def _buttons(card: dict[str, Any]) -> str | None:
    buttons = card.get("button_list")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 6:
        return "button_list needs 1 to 6 buttons"
    if any(not b.get("key") or _too_long(b.get("text"), BUTTON_TEXT_CHARS) for b in buttons):
        return "each button needs a key and a text of at most 10 characters"
    return None


def _selects(card: dict[str, Any]) -> str | None:
    selects = card.get("select_list")
    if not isinstance(selects, list) or not 1 <= len(selects) <= 3:
        return "select_list needs 1 to 3 questions"
    if any(not s.get("question_key") for s in selects):
        return "each select needs a question_key"
    return next((p for s in selects if (p := _options(s.get("option_list"), 10))), None)


def card_problem(card: Any) -> str | None:
    if not isinstance(card, dict) or card.get("card_type") not in CARD_TYPES:
        return "card_type must be one of " + ", ".join(sorted(CARD_TYPES))
    main_title = card.get("main_title") or {}
    if len(main_title.get("title", "")) > TITLE_CHARS:
        return f"main_title.title is at most {TITLE_CHARS} characters"
    if len(main_title.get("desc", "")) > DESC_CHARS:
        return f"main_title.desc is at most {DESC_CHARS} characters"
    if card["card_type"] in INTERACTIVE and not TASK_ID.match(str(card.get("task_id", ""))):
        return "task_id is required: at most 128 bytes of letters, digits and _-@"
    check = {"vote_interaction": _vote, "button_interaction": _buttons, "multiple_interaction": _selects}
    return check[card["card_type"]](card) if card["card_type"] in check else None
