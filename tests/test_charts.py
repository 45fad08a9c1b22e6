"""The poll result chart: a PNG of the right size, Chinese really drawn, satisfied bars in red; the
font subset shipped in the package draws what the full font draws and has every character of our
templates and campaigns (issue 19, finding 11)."""
from __future__ import annotations

import io
import unicodedata
from functools import lru_cache
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFont

from bot import charts

ROOT = Path(__file__).resolve().parent.parent
# The font the subset was cut from (benchmarks/font_subset.py): Debian's fonts-noto-cjk, here and in CI.
FULL_FONT, FULL_FACE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"), "Noto Sans CJK SC"
RARE = "堃"  # common in given names, in Noto Sans CJK SC, not in GB2312: outside the subset

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


def test_the_font_ships_inside_the_package_with_its_licence():
    path = charts.font_path()
    assert path.is_file() and path.name == charts.FONT_FILE
    assert path.resolve().is_relative_to(Path(charts.__file__).resolve().parent)
    assert (path.parent / "OFL.txt").is_file()
    # tests/test_packaging.py: both are in the wheel `pip install .` installs, and mplfonts is not needed.


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


def full_face() -> tuple[str, int]:
    if not FULL_FONT.is_file():
        pytest.skip(f"no full Noto Sans CJK on this machine ({FULL_FONT}, Debian's fonts-noto-cjk)")
    for index in range(32):
        if ImageFont.truetype(str(FULL_FONT), 12, index=index).getname()[0] == FULL_FACE:
            return str(FULL_FONT), index
    pytest.fail(f"{FULL_FONT} has no {FULL_FACE} face")


CHARTS = [  # what polls put on a chart: titles, options, the footer, digits, Latin, full-width forms
    dict(title="第一党支部 群众满意度测评", labels=LABELS, counts=[20, 6, 3, 1], highlight={"满意", "基本满意"},
         footer=FOOTER),
    dict(title="2026年度“创先争优”先锋岗评议（第二轮）：请在12月31日前投票！", counts=[0, 0, 0],
         labels=["同意推荐", "不同意", "弃权"], highlight=set(), footer="有效票 0；参与率 0.0%"),
    dict(title="教育局機關黨組織評議", labels=["優秀", "合格", "基本合格", "不合格"], counts=[12, 30, 4, 0],
         highlight={"優秀"}, footer="ABC xyz 0123456789 ,.;:!? ＋－×÷＝ ①②③ ……"),
    dict(title="各支部参与率", labels=["城关镇中心小学党支部（含幼儿园、教学点）", "实验中学", "职教中心 AB-1"],
         counts=[98, 7, 45], highlight={"实验中学"}, footer="满意率 = (满意+基本满意)/有效票 = 100.0%"),
]


@pytest.fixture
def with_font(monkeypatch):
    """Draws charts with another font file for a while; the coverage cache is emptied both ways."""
    def use(path: str, index: int) -> None:
        charts.in_subset.cache_clear()
        charts._notdef_ink.cache_clear()
        monkeypatch.setattr(charts, "font", lru_cache(maxsize=8)(
            lambda size: ImageFont.truetype(path, size, index=index)))
    yield use
    charts.in_subset.cache_clear()
    charts._notdef_ink.cache_clear()


@pytest.mark.parametrize("chart", CHARTS, ids=range(len(CHARTS)))
def test_the_subset_draws_the_same_pixels_as_the_full_font(chart, with_font):
    subset = decode(charts.bar_chart(**chart))
    with_font(*full_face())
    full = decode(charts.bar_chart(**chart))
    assert subset.size == full.size
    assert ImageChops.difference(subset, full).getbbox() is None


def test_a_different_font_would_be_seen(with_font):
    """The comparison above is able to fail: the full font's Japanese face draws 的 and 骨 differently."""
    path, index = full_face()
    chart = dict(title="骨干教师的评议", labels=LABELS, counts=[1, 2, 3, 4])
    subset = decode(charts.bar_chart(**chart))
    with_font(path, index - 2)  # Noto Sans CJK JP, two faces before SC in Debian's collection
    assert charts.font(12).getname()[0] == "Noto Sans CJK JP"
    assert ImageChops.difference(subset, decode(charts.bar_chart(**chart))).getbbox() is not None


def shipped_text() -> dict[str, str]:
    """Every template and campaign file the package ships (the wheel carries them: test_packaging.py)."""
    files = [*ROOT.joinpath("message_templates").rglob("*.j2"), *ROOT.joinpath("message_templates").rglob("*.toml"),
             *ROOT.joinpath("campaigns").glob("*.yaml")]
    assert len(files) > 100
    return {str(path.relative_to(ROOT)): path.read_text(encoding="utf-8") for path in files}


def test_every_character_of_templates_and_campaigns_is_in_the_subset():
    # Controls are never drawn; other symbols (emoji, ✅) are for messages, and Noto CJK has few of them.
    missing = {}
    for name, text in shipped_text().items():
        for char in set(text):
            category = unicodedata.category(char)
            if not category.startswith("C") and category != "So" and not charts.in_subset(char):
                missing.setdefault(char, name)
    assert not missing, f"not in the chart font, cut it again (benchmarks/font_subset.py): {missing}"


def test_coverage_tells_a_missing_character_from_a_present_one():
    for char in "满意黨優 a0（，…①\u3000":
        assert charts.in_subset(char), char
    for char in (RARE, "\U00020000", charts.NOT_A_CHARACTER, "\U0001f44d"):
        assert not charts.in_subset(char), char


def test_a_rare_character_is_drawn_with_a_system_font(monkeypatch):
    path, index = full_face()
    monkeypatch.setattr(charts, "SYSTEM_FONTS", ((str(FULL_FONT), FULL_FACE),))
    charts.system_font_file.cache_clear()
    charts._system_font.cache_clear()
    try:
        assert charts.system_font_file() == (path, index)
        face = charts.face_for(f"王{RARE}同志", 32)
        assert face is not charts.font(32) and face.getname()[0] == FULL_FACE
        assert ink(face, RARE) != ink(face, charts.NOT_A_CHARACTER)
        assert charts.face_for("王同志", 32) is charts.font(32)  # the rest stays with the subset
        decode(charts.bar_chart(title=f"王{RARE}同志 推荐票", labels=[f"王{RARE}", "李明"], counts=[3, 1]))
    finally:
        charts.system_font_file.cache_clear()
        charts._system_font.cache_clear()


def test_without_a_system_font_a_rare_character_is_a_box_and_nothing_breaks(monkeypatch):
    monkeypatch.setattr(charts, "SYSTEM_FONTS", (("/nonexistent/NotoSansCJK-Regular.ttc", FULL_FACE),))
    charts.system_font_file.cache_clear()
    charts._system_font.cache_clear()
    try:
        assert charts.system_font_file() is None
        face = charts.face_for(f"王{RARE}同志", 32)
        assert face is charts.font(32)
        assert ink(face, RARE) == ink(face, charts.NOT_A_CHARACTER)
        image = decode(charts.bar_chart(title=f"王{RARE}同志 推荐票", labels=[f"王{RARE}", "李明"], counts=[3, 1]))
        assert image.size == (charts.WIDTH, charts.chart_height(2))
    finally:
        charts.system_font_file.cache_clear()
        charts._system_font.cache_clear()
