"""Cuts the chart font, bot/data/fonts/NotoSansCJKsc-Regular-subset.otf, from the full Noto Sans CJK SC
(issue 19, finding 11: the mplfonts wheel brought matplotlib, numpy and 220 MB of fonts for one file).

Run once, when the character set or the source font changes, in an environment with fontTools (a
cut-time tool only: the bot never imports it):

    python3 -m venv /tmp/ft-venv && /tmp/ft-venv/bin/pip install fonttools==4.68.0
    /tmp/ft-venv/bin/python benchmarks/font_subset.py [--also /work/shared/seeds] [--source FILE]

A cut from the same source and character list is byte for byte the committed file. `--source` takes
another copy of the font (a .ttc collection, whose "Noto Sans CJK SC" face is used, or an .otf).

Source: the Regular weight of Noto Sans CJK 2.004 as Debian ships it (package fonts-noto-cjk
1:20220127+repack1-1, /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc, the face named
"Noto Sans CJK SC"), so the full font the subset is checked against (tests/test_charts.py) is on
every Debian machine and in CI. SIL Open Font License 1.1 (bot/data/fonts/OFL.txt).

Characters kept:
- printable ASCII, Latin-1 Supplement, General Punctuation (U+2010-U+205E), CJK Symbols and
  Punctuation (U+3000-U+303F), Halfwidth and Fullwidth Forms (U+FF00-U+FFEF);
- all of GB2312 (6,763 hanzi and 682 symbols), derived from Python's gb2312 codec;
- every character of message_templates/, campaigns/ and bot/data/, and of any `--also` directory,
  that the source font has; those outside the sets above are kept in bot/data/fonts/extra-chars.txt,
  which every later cut reads, so the set does not shrink when an `--also` directory is missing.

Glyph outlines, hinting, metrics and the layout features HarfBuzz applies to horizontal text by
default are kept as they are (pyftsubset's defaults plus the .notdef outline and every name record),
so a chart drawn with the subset is pixel for pixel the chart drawn with the full face
(tests/test_charts.py checks it). Two things are left out: the vertical-writing features, and the
language systems for Japanese, Korean, Hong Kong and Taiwan forms (their `locl` alternates would
double the glyph count). Pillow lets HarfBuzz take the language from the process locale, so only under
a ja, ko, zh_HK or zh_TW locale would the full face have drawn those regional forms; the subset draws
the Simplified Chinese forms there too, as it does under C, en and zh_CN locales.
"""
from __future__ import annotations

import argparse
import hashlib
import unicodedata
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont

REPO = Path(__file__).resolve().parent.parent
FONTS = REPO / "bot" / "data" / "fonts"
OUTPUT = FONTS / "NotoSansCJKsc-Regular-subset.otf"
EXTRA = FONTS / "extra-chars.txt"
SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
FACE = "Noto Sans CJK SC"
CORPUS = ("message_templates", "campaigns", "bot/data")
VERTICAL = ("vert", "vrt2", "vjmo", "vkrn", "vpal", "vhal")  # Pillow lays charts out horizontally
OTHER_LOCALES = ("JAN", "KOR", "ZHH", "ZHT")  # OpenType language systems: Japanese, Korean, HK, Taiwan
RANGES = ((0x20, 0x7E), (0xA0, 0xFF), (0x2010, 0x205E), (0x3000, 0x303F), (0xFF00, 0xFFEF))


def gb2312() -> set[str]:
    chars = set()
    for lead in range(0xA1, 0xF8):
        for trail in range(0xA1, 0xFF):
            try:
                chars.add(bytes((lead, trail)).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return chars


def corpus(directories: list[Path]) -> set[str]:
    chars = set()
    for directory in directories:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and path.suffix not in (".pyc", ".otf", ".ttf") and path != EXTRA:
                try:
                    chars |= set(path.read_text(encoding="utf-8"))
                except UnicodeDecodeError:
                    pass
    return {c for c in chars if not unicodedata.category(c).startswith("C")}  # no controls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--also", type=Path, nargs="*", default=[], help="more directories of text to cover")
    args = parser.parse_args()

    if args.source.suffix.lower() == ".ttc":  # a collection: the face named FACE
        faces = TTCollection(str(args.source), lazy=True).fonts
        index = next(n for n, face in enumerate(faces) if face["name"].getDebugName(1) == FACE)
    else:
        faces, index = [TTFont(str(args.source), lazy=True)], 0
    cmap = faces[index].getBestCmap()

    fixed = {chr(c) for low, high in RANGES for c in range(low, high + 1)} | gb2312()
    recorded = set(EXTRA.read_text(encoding="utf-8").replace("\n", "")) if EXTRA.exists() else set()
    found = corpus([REPO / d for d in CORPUS] + args.also)
    extra = {c for c in (found | recorded) - fixed if ord(c) in cmap}
    wanted = sorted(ord(c) for c in fixed | extra if ord(c) in cmap)
    FONTS.mkdir(parents=True, exist_ok=True)
    EXTRA.write_text("".join(sorted(extra)) + "\n", encoding="utf-8")

    options = subset.Options()
    options.font_number = index
    options.notdef_outline = True  # a character outside the subset shows the same box as in the full font
    options.name_IDs = ["*"]  # copyright, licence and its URL stay in the font
    options.name_languages = ["*"]
    options.glyph_names = False
    options.layout_features = [tag for tag in options.layout_features if tag not in VERTICAL]
    font = subset.load_font(str(args.source), options)
    for tag in ("GSUB", "GPOS"):  # the Japanese, Korean and traditional forms: half the glyphs otherwise
        for script in font[tag].table.ScriptList.ScriptRecord:
            script.Script.LangSysRecord = [record for record in script.Script.LangSysRecord
                                           if record.LangSysTag.strip() not in OTHER_LOCALES]
            script.Script.LangSysCount = len(script.Script.LangSysRecord)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=wanted)
    subsetter.subset(font)
    subset.save_font(font, str(OUTPUT), options)

    digest = hashlib.sha256(args.source.read_bytes()).hexdigest()
    print(f"{args.source} face {index} (sha256 {digest}): {len(wanted)} characters"
          f" ({len(extra)} beyond the fixed sets) -> {OUTPUT.relative_to(REPO)}, {OUTPUT.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
