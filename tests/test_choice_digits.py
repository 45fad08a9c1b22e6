"""A numbered choice answered with a character that str.isdigit() accepts but int() does not (the
superscript ², found by test_pledge_form's hypothesis run) is an invalid choice, not a crash."""
from __future__ import annotations

import pytest

from bot.answers import Invalid, parse_choice


@pytest.mark.parametrize("text", ["²", "³", "¹"])
def test_digit_like_characters_are_not_option_numbers(text):
    with pytest.raises(Invalid):
        parse_choice(text, ["提交"])


def test_other_scripts_decimal_digits_still_count():
    assert parse_choice("٢", ["甲", "乙"]) == "乙"  # an Arabic-Indic 2 is a decimal digit int() reads
