"""Reading a pledge as a member types it on a phone (/承诺), so that one message does the work of
several questions:

- which standards: "1 3 5", "1、3、5", "135", "1-3", "一三五", names, or 全部;
- one item: 事项、措施、时限 in one message, split at "；" or line breaks ("每周读一篇教育理论文章；
  写读书笔记；6月30日"), labelled ("措施：…"), or with the date after a comma ("…，6月30日");
- a whole pledge pasted at once: each standard's number or name, then its item.

Only splitting and finding happen here; bot/handlers/pledge.py checks each part as its question
would (text long enough and saying something, a date to come).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from bot.answers import Invalid
from bot.texts import vocabulary

NUMERALS = "一二三四五六七八九"
CIRCLED = "①②③④⑤⑥⑦⑧⑨"
NUMBER = f"[1-9１-９{NUMERALS}{CIRCLED}]"  # a phone's full-width digits too
HEADER_MARK = r"(?:[、.．:：)）](?![\d１-９]))"  # after a standard's number: "3、" "3." "3："; not "6.30"
SPACED = r"|[ \t\u3000]+"  # "1 每周读书": a space after the number, at a line's start
SEGMENTS = re.compile(r"\s*[\n;；]+\s*")  # where one part of an item ends
SOFT = re.compile(r"\s*[，,。]+\s*|\s+")  # where a date after the text may begin
SELECTION_GAPS = re.compile(r"[\s、,，.;；/和及与第项条个]+")
RANGE = re.compile(rf"({NUMBER})[-－—~～到至]({NUMBER})")
DATE_ENDINGS = tuple("底末前日号月天周")  # a short last part ending so is a date even when unreadable
SHORT_DATE = 6  # characters


@dataclass(frozen=True)
class ItemText:
    """One item's parts as typed (None: not given)."""
    what: str | None = None
    how: str | None = None
    by: str | None = None


def normalised(text: str) -> str:
    """The text as typed (its punctuation is theirs, and published), with one kind of line break."""
    return text.replace("\r\n", "\n").strip()


def number_of(token: str) -> int:
    """1 for "1", "一" or "①"."""
    if token in NUMERALS:
        return NUMERALS.index(token) + 1
    if token in CIRCLED:
        return CIRCLED.index(token) + 1
    return int(token)  # full-width digits too


def names(labels: list[str]) -> list[tuple[str, int]]:
    """(a name a member may type, the label's index), longest first: each label, and each without
    the opening all labels share ("学习提高" for 带头学习提高)."""
    shared = _shared_start(labels) if len(labels) > 1 else ""
    found = [(label, i) for i, label in enumerate(labels)]
    found += [(label[len(shared):], i) for i, label in enumerate(labels) if len(label) - len(shared) >= 2]
    return sorted(set(found), key=lambda pair: -len(pair[0]))


def read_selection(text: str, labels: list[str]) -> list[int] | None:
    """The chosen standards' indexes, in order; None when the text is not a choice of standards.
    A number outside the list is Invalid (the member is told the numbers there are)."""
    typed = normalised(text)
    if typed in vocabulary()["forms"]["pledge"]["all"]:
        return list(range(len(labels)))
    chosen: set[int] = set()
    for name, index in names(labels):
        if name in typed:
            chosen.add(index)
            typed = typed.replace(name, " ")
    for token in SELECTION_GAPS.split(typed):
        numbers = _numbers(token)
        if numbers is None:
            return None
        chosen.update(n - 1 for n in numbers)
    if not chosen:
        return None
    if any(not 0 <= i < len(labels) for i in chosen):
        raise Invalid("pledge_standards_range", count=len(labels))
    return sorted(chosen)


def read_pasted(text: str, labels: list[str], numbered: int, *, spaced_numbers: bool = True) -> dict[int, str] | None:
    """A whole pledge: {label index: that item's text}, when the text begins with a standard's number
    or name; the first `numbered` labels go by number too (the 岗位承诺 only by name). A number and a
    space begin an item at a line's start only with `spaced_numbers` ("1 每周读书"; under an item's
    own question "3 次家访" is its words). None when the text begins with neither."""
    typed = normalised(text)
    headers = [h for h in _headers(typed, labels, spaced_numbers) if h[1] < numbered or h[2]]
    if not headers or headers[0][0].start() != 0:
        return None
    items: dict[int, str] = {}
    for (match, index, _), following in zip(headers, [*headers[1:], None]):
        body = typed[match.end():following[0].start() if following else len(typed)].strip(" \u3000\n;；。")
        if body:
            items[index] = f"{items[index]}；{body}" if index in items else body
    return items or None


def split_item(text: str, reads_as_date: Callable[[str], bool], *, what_known: bool = False) -> ItemText:
    """One item's parts. Labelled parts go where they say; the rest in order: the 事项 (unless
    `what_known`: the question asked for the 措施), then the 措施, and a date at the end is the 时限."""
    labelled, rest = _labelled(normalised(text))
    if "by" not in labelled and rest:
        rest = _date_off(rest, labelled, reads_as_date, what_known)
    if rest and "what" not in labelled and not what_known:
        labelled["what"] = rest.pop(0)
    if rest:
        labelled["how"] = "；".join([labelled["how"], *rest] if "how" in labelled else rest)
    return ItemText(**labelled)


def _date_off(rest: list[str], labelled: dict[str, str], reads_as_date: Callable[[str], bool],
              what_known: bool) -> list[str]:
    """The parts without the date at their end (put in `labelled`), if one is there: a last part that
    reads as a date or, after other parts, looks like one (a short "本学期末" is asked again, not kept
    as the 措施); else the last words after a comma or a space, when they read as a date."""
    last = rest[-1]
    if len(rest) > 1 and (reads_as_date(last) or (len(last) <= SHORT_DATE and last.endswith(DATE_ENDINGS))):
        labelled["by"] = last
        return rest[:-1]
    if len(rest) == 1 and not what_known and reads_as_date(last):  # a date alone: the 事项 is still to come
        labelled["by"] = last
        return []
    pieces = [p for p in SOFT.split(last) if p]
    if len(pieces) < 2 or not reads_as_date(pieces[-1]):
        return rest
    three = len(rest) == 1 and len(pieces) == 3 and not labelled and not what_known
    labelled["by"] = pieces[-1]
    if three and all(len(p) >= 2 for p in pieces[:2]):
        return pieces[:2]  # "每周读一篇文章，写读书笔记，6月30日": 事项，措施，时限
    return [*rest[:-1], re.sub(r"[\s，,。]+$", "", last[:last.rfind(pieces[-1])])]


def _labelled(text: str) -> tuple[dict[str, str], list[str]]:
    """({part: text} of the parts typed with a label such as "措施：", [the other parts, in order])."""
    labels = vocabulary()["forms"]["pledge"]["parts"]
    pattern = re.compile(r"^(%s)\s*[:：]\s*" % "|".join(
        re.escape(w) for w in sorted((w for ws in labels.values() for w in ws), key=len, reverse=True)))
    labelled: dict[str, str] = {}
    rest: list[str] = []
    for segment in filter(None, SEGMENTS.split(text)):
        match = pattern.match(segment)
        if match is None:
            rest.append(segment)
            continue
        part = next(p for p, ws in labels.items() if match[1] in ws)
        body = segment[match.end():].strip()
        if body:
            labelled[part] = f"{labelled[part]}；{body}" if part in labelled else body
    return labelled, rest


def _headers(text: str, labels: list[str], spaced_numbers: bool) -> list[tuple[re.Match, int, bool]]:
    """Where each standard's item begins: (the match, the label's index, named rather than numbered).
    A number begins an item at a line's start, or after "；" or "。" when a "、" "." ":" or ")" follows
    it ("…；3、每月家访"): not the "2" of "…；2 次家访"."""
    by_name = dict(names(labels))
    name_pattern = "|".join(re.escape(n) for n, _ in names(labels))
    pattern = re.compile(
        rf"(?:^|(?<=[;；。\s]))[【\[]?(?P<name>{name_pattern})[】\]]?\s*[:：、.．]?\s*"
        rf"|^[ \t\u3000]*(?P<first>{NUMBER})(?:\s*{HEADER_MARK}{SPACED if spaced_numbers else ''})\s*"
        rf"|(?<=[;；。\s])(?P<later>{NUMBER})\s*{HEADER_MARK}\s*", re.M)
    found = []
    for match in pattern.finditer(text):
        if match["name"]:
            found.append((match, by_name[match["name"]], True))
        else:
            index = number_of(match["first"] or match["later"]) - 1
            if index < len(labels):
                found.append((match, index, False))
    return found


def _numbers(token: str) -> list[int] | None:
    """The numbers of one token of a choice: "3", "135" (each digit one standard), "1-3"; None when
    the token is not numbers."""
    if not token:
        return []
    span = RANGE.fullmatch(token)
    if span:
        first, last = sorted((number_of(span[1]), number_of(span[2])))
        return list(range(first, last + 1))
    if re.fullmatch(f"{NUMBER}+", token):
        return [number_of(c) for c in token]
    if re.fullmatch(r"\d+", token):  # 0 or 10: a number, but none of the list's
        return [int(token)]
    return None


def _shared_start(labels: list[str]) -> str:
    shared = labels[0]
    for label in labels[1:]:
        while not label.startswith(shared):
            shared = shared[:-1]
    return shared
