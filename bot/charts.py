"""Poll results as a horizontal bar chart (PNG) for a branch group chat, drawn with Pillow.

Not matplotlib: it is slow to import and heavy on memory for one chart now and then. The CJK font
comes from the ``mplfonts`` wheel, so a server without Chinese system fonts still draws Chinese
rather than empty boxes.
"""
from __future__ import annotations

import importlib.util
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
FONT_FILE = "NotoSansCJKsc-Regular.otf"


def font_path() -> Path:
    """The font inside the installed mplfonts package. find_spec locates the package without
    importing it: its __init__ imports matplotlib, which is what we avoid."""
    spec = importlib.util.find_spec("mplfonts")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the mplfonts package (our CJK font) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "fonts" / FONT_FILE


@lru_cache(maxsize=8)
def font(size: int) -> ImageFont.FreeTypeFont:
    # Opening the 16 MB font costs tens of milliseconds; each size is loaded once per process.
    return ImageFont.truetype(str(font_path()), size)


def chart_height(rows: int) -> int:
    return HEADER + ROW * max(rows, 1) + FOOTER


def _fit(text: str, face: ImageFont.FreeTypeFont, width: float) -> str:
    """The text, shortened with an ellipsis until it fits the width."""
    if face.getlength(text) <= width:
        return text
    while text and face.getlength(text + "…") > width:
        text = text[:-1]
    return text + "…"


def _label_width(labels: list[str], face: ImageFont.FreeTypeFont) -> int:
    widest = max((face.getlength(label) for label in labels), default=0)
    return int(min(widest, LABEL_MAX)) + 16


def _bars(draw: ImageDraw.ImageDraw, labels: list[str], counts: list[int], highlight: set[str]) -> None:
    label_face, count_face = font(26), font(24)
    left = MARGIN + _label_width(labels, label_face)
    span = WIDTH - MARGIN - COUNT_ROOM - left
    top_count = max(counts, default=0) or 1  # all zero: bars of no length, still a valid chart
    draw.line((left, HEADER + 8, left, HEADER + ROW * len(labels) - 8), fill=PLAIN, width=2)  # the zero line
    for n, (label, count) in enumerate(zip(labels, counts)):
        middle = HEADER + ROW * n + ROW // 2
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
    draw.text((WIDTH // 2, HEADER // 2), _fit(title, font(32), WIDTH - 2 * MARGIN), font=font(32),
              fill=INK, anchor="mm")
    _bars(draw, labels, counts, highlight)
    if footer:
        draw.text((MARGIN, image.height - FOOTER // 2), _fit(footer, font(22), WIDTH - 2 * MARGIN),
                  font=font(22), fill=MUTED, anchor="lm")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
