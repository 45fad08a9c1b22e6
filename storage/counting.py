"""Counting as people count: Chinese numerals (十一 is 11), and branches in the order of the numbers
in their names (第二党支部 before 第十党支部), which is the order a bureau lists them in. Here in storage
so that queries and the bot's messages, exports and reports sort branches alike."""
from __future__ import annotations

import re

DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
UNITS = {"十": 10, "百": 100}
NUMERAL = "[零〇一二两三四五六七八九十百]+|[0-9]+"
# 第N anywhere (县第二中学党支部), or a number that opens the name (一支部, 3支部).
NUMBERED = re.compile(rf"第({NUMERAL})|^({NUMERAL})")


def chinese_number(text: str) -> int:
    """十一 → 11, 二十 → 20, 一百零五 → 105, 12 → 12 (the text holds only numerals or only digits)."""
    if text.isdigit():
        return int(text)
    total = current = 0
    for char in text:
        if char in UNITS:
            total += (current or 1) * UNITS[char]  # 十 alone is ten
            current = 0
        else:
            current = DIGITS[char]
    return total + current


def branch_sort_key(name: str) -> tuple[int, int, str]:
    """Numbered branches first, by their number (第一 < 第二 < … < 第十 < 第十一); then the others
    by name. Ties (第一党支部, 第一党总支) by name, so the order never depends on the database."""
    found = NUMBERED.search(name)
    if found is None:
        return (1, 0, name)
    return (0, chinese_number(found[1] or found[2]), name)
