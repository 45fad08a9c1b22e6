"""Poll results as a horizontal bar chart (PNG) for a branch group chat, drawn with Pillow.

Not matplotlib: it is slow to import and heavy on memory for one chart now and then. The CJK font
ships with the package: bot/data/fonts/NotoSansCJKsc-Regular-subset.otf, Noto Sans CJK SC 2.004 cut
to about 8,000 characters (ASCII, CJK punctuation, full-width forms, all of GB2312, and every
character of our templates and campaigns; bot/data/fonts/README.md), so a server without Chinese
system fonts still draws Chinese rather than empty boxes, and a chart is pixel for pixel the chart
the full font draws.

A text with a character outside the subset (a rare name in a poll title) is drawn whole with a
system CJK font when one of SYSTEM_FONTS is installed (Debian's fonts-noto-cjk is the same design);
without one, with the subset, where that character shows the font's empty box (.notdef).
"""
from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

WIDTH = 800  # a phone shows it full width without zooming
MARGIN = 32
HEADER = 96  # title band
ROW = 64  # one bar and its gap
FOOTER = 80
BAR_HEIGHT = 40
LABEL_MAX = 260  # the label column never takes more than this; longer labels are shortened
COUNT_ROOM = 70  # right of the longest bar, for its count

BACKGROUND, INK, MUTED = (255, 255, 255), (34, 34, 34), (110, 110, 110)
PLAIN, HIGHLIGHT = (168, 178, 191), (200, 32, 38)  # grey, and party red for the 'satisfied' options
FONT_FILE = "NotoSansCJKsc-Regular-subset.otf"
# For a text the subset cannot draw, the first of these that exists: (path, face name in a collection).
SYSTEM_FONTS = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "Noto Sans CJK SC"),  # Debian, Ubuntu
    ("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc", "Noto Sans CJK SC"),  # Fedora
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", "Noto Sans CJK SC"),  # Arch
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "WenQuanYi Micro Hei"),  # Debian, Ubuntu
)
NOT_A_CHARACTER = "\uffff"  # in no font's cmap: it draws the .notdef glyph


def font_path() -> Path:
    """The subset shipped inside the package (package data, so a non-editable install has it too)."""
    return Path(__file__).resolve().parent / "data" / "fonts" / FONT_FILE


@lru_cache(maxsize=8)
def font(size: int) -> ImageFont.FreeTypeFont:
    # Each size is loaded once per process.
    return ImageFont.truetype(str(font_path()), size)


def _ink(face: ImageFont.FreeTypeFont, char: str) -> bytes:
    """The pixels one character leaves, drawn alone."""
    image = Image.new("L", (2 * face.size, 2 * face.size), 0)
    ImageDraw.Draw(image).text((0, 0), char, font=face, fill=255)
    return image.tobytes()


@lru_cache(maxsize=4096)
def in_subset(char: str) -> bool:
    """Whether the shipped font has a glyph for the character: a character missing from its cmap is
    drawn as .notdef, a box no real glyph looks like (spaces are blank, not a box)."""
    return _ink(font(24), char) != _notdef_ink()


@lru_cache(maxsize=1)
def _notdef_ink() -> bytes:
    return _ink(font(24), NOT_A_CHARACTER)


@lru_cache(maxsize=1)
def system_font_file() -> tuple[str, int] | None:
    """The first installed of SYSTEM_FONTS: its path and the index of its face in a collection."""
    for path, name in SYSTEM_FONTS:
        if not Path(path).is_file():
            continue
        for index in range(32):
            try:
                face = ImageFont.truetype(path, 12, index=index)
            except OSError:
                break
            if face.getname()[0] == name:
                return path, index
    return None


@lru_cache(maxsize=8)
def _system_font(size: int) -> ImageFont.FreeTypeFont | None:
    found = system_font_file()
    return ImageFont.truetype(found[0], size, index=found[1]) if found else None


def face_for(text: str, size: int) -> ImageFont.FreeTypeFont:
    """The shipped font; for a text with a character it lacks, a system CJK font if one is installed
    (the whole text, so it keeps one design), else still the shipped font (that character: a box)."""
    if all(in_subset(char) for char in set(text)):
        return font(size)
    return _system_font(size) or font(size)


def chart_height(rows: int) -> int:
    return HEADER + ROW * max(rows, 1) + FOOTER


def _fit(text: str, face: ImageFont.FreeTypeFont, width: float) -> str:
    """The text, shortened with an ellipsis until it fits the width."""
    if face.getlength(text) <= width:
        return text
    while text and face.getlength(text + "…") > width:
        text = text[:-1]
    return text + "…"


def _label_width(labels: list[str], size: int) -> int:
    widest = max((face_for(label, size).getlength(label) for label in labels), default=0)
    return int(min(widest, LABEL_MAX)) + 16


def _bars(draw: ImageDraw.ImageDraw, labels: list[str], counts: list[int], highlight: set[str]) -> None:
    count_face = font(24)
    left = MARGIN + _label_width(labels, 26)
    span = WIDTH - MARGIN - COUNT_ROOM - left
    top_count = max(counts, default=0) or 1  # all zero: bars of no length, still a valid chart
    draw.line((left, HEADER + 8, left, HEADER + ROW * len(labels) - 8), fill=PLAIN, width=2)  # the zero line
    for n, (label, count) in enumerate(zip(labels, counts)):
        middle = HEADER + ROW * n + ROW // 2
        label_face = face_for(label, 26)
        draw.text((left - 16, middle), _fit(label, label_face, LABEL_MAX), font=label_face, fill=INK, anchor="rm")
        length = round(span * count / top_count)
        if length:
            colour = HIGHLIGHT if label in highlight else PLAIN
            draw.rectangle((left, middle - BAR_HEIGHT // 2, left + length, middle + BAR_HEIGHT // 2), fill=colour)
        draw.text((left + length + 10, middle), str(count), font=count_face, fill=INK, anchor="lm")


def bar_chart(*, title: str, labels: list[str], counts: list[int], highlight: set[str] = frozenset(),
              footer: str = "") -> bytes:
    """One bar per label with its count; labels in `highlight` (the satisfied options) in red."""
    if len(labels) != len(counts):
        raise ValueError("one count per label")
    image = Image.new("RGB", (WIDTH, chart_height(len(labels))), BACKGROUND)
    draw = ImageDraw.Draw(image)
    title_face = face_for(title, 32)
    draw.text((WIDTH // 2, HEADER // 2), _fit(title, title_face, WIDTH - 2 * MARGIN), font=title_face,
              fill=INK, anchor="mm")
    _bars(draw, labels, counts, highlight)
    if footer:
        footer_face = face_for(footer, 22)
        draw.text((MARGIN, image.height - FOOTER // 2), _fit(footer, footer_face, WIDTH - 2 * MARGIN),
                  font=footer_face, fill=MUTED, anchor="lm")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
