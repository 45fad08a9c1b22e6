"""The poll result chart: a PNG of the right size, Chinese really drawn, satisfied bars in red."""
from __future__ import annotations

import io
import sysconfig
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from bot import charts

LABELS = ["满意", "基本满意", "不满意", "不了解"]
FOOTER = "满意率 = (满意+基本满意)/有效票 = 86.7%"


def decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return image.convert("RGB")


def ink(face: ImageFont.FreeTypeFont, text: str) -> bytes:
    """The pixels `text` leaves on a blank canvas with this font."""
    image = Image.new("L", (200, 60), 0)
    ImageDraw.Draw(image).text((4, 4), text, font=face, fill=255)
    return image.tobytes()


def bar_colour(image: Image.Image, row: int) -> tuple[int, int, int]:
    """The colour a little right of where a row's bar begins (text ink is neutral grey, never a bar colour)."""
    middle = charts.HEADER + charts.ROW * row + charts.ROW // 2
    start = next(x for x in range(charts.MARGIN, charts.WIDTH)
                 if image.getpixel((x, middle)) in (charts.PLAIN, charts.HIGHLIGHT))
    return image.getpixel((start + 10, middle))


def test_png_decodes_with_the_expected_size():
    png = charts.bar_chart(title="第一党支部 群众满意度测评", labels=LABELS, counts=[20, 6, 3, 1],
                           highlight={"满意", "基本满意"}, footer=FOOTER)
    image = decode(png)
    assert image.size == (charts.WIDTH, charts.chart_height(len(LABELS))) == (800, 96 + 4 * 64 + 80)


def test_all_zero_counts_still_render():
    # Every label highlighted: a bar of any length would leave the highlight colour somewhere.
    image = decode(charts.bar_chart(title="尚无投票", labels=LABELS, counts=[0, 0, 0, 0], highlight=set(LABELS)))
    assert image.size == (charts.WIDTH, charts.chart_height(len(LABELS)))
    colours = {image.getpixel((x, y)) for x in range(0, charts.WIDTH, 4) for y in range(0, image.height, 4)}
    assert charts.HIGHLIGHT not in colours


def test_the_font_comes_from_the_installed_mplfonts_package():
    path = charts.font_path()
    assert path.is_file() and path.name == "NotoSansCJKsc-Regular.otf"
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    assert path.resolve().is_relative_to(site) and "mplfonts" in path.parts
    assert not str(path).startswith("/usr/share/fonts")


def test_chinese_glyphs_are_really_drawn():
    face = charts.font(26)
    # Two different characters leave different ink, and neither looks like unknown-glyph boxes.
    assert ink(face, "满意") != ink(face, "基本") != ink(face, "\uffff\uffff")
    assert ink(face, "满意") != ink(face, "\uffff\uffff")
    # The same check with a Latin-only font sees the same boxes for both: it would catch a wrong font.
    latin = ImageFont.load_default(26)
    assert ink(latin, "满意") == ink(latin, "基本")


def test_font_objects_are_cached():
    assert charts.font(26) is charts.font(26)


def test_highlighted_bars_use_the_other_colour():
    image = decode(charts.bar_chart(title="测评", labels=LABELS, counts=[5, 5, 5, 5],
                                    highlight={"满意", "不了解"}))
    assert [bar_colour(image, n) for n in range(4)] == [charts.HIGHLIGHT, charts.PLAIN,
                                                        charts.PLAIN, charts.HIGHLIGHT]
