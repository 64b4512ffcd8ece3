"""Rebuild NotoSansJP-Bold-subset.ttf from the npm package @expo-google-fonts/noto-sans-jp.

The full font is 5.5 MB per weight; packshot ships one weight cut to what a Japanese product
title needs: kana, CJK punctuation, full-width forms and the 2,965 level-1 kanji of JIS X 0208
(the common ones). A title with a rarer kanji falls back to the Latin font for that glyph and
the layout records it (see layout.missing_glyphs).

    npm pack @expo-google-fonts/noto-sans-jp && tar xzf expo-google-fonts-noto-sans-jp-*.tgz
    python -m tasks.creatives.fonts.subset_cjk package/700Bold/NotoSansJP_700Bold.ttf
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset

OUT = Path(__file__).with_name("NotoSansJP-Bold-subset.ttf")
RANGES = (
    (0x0020, 0x00FF),  # ASCII and Latin-1 (yen sign, accents) inside Japanese titles
    (0x2010, 0x2027),  # dashes, quotes, ellipsis
    (0x20AC, 0x20AC),  # euro sign
    (0x3000, 0x303F),  # CJK punctuation
    (0x3040, 0x30FF),  # hiragana, katakana
    (0xFF00, 0xFFEF),  # full-width and half-width forms
)


def jis_level1_kanji() -> list[int]:
    """JIS X 0208 rows 16-47, decoded through EUC-JP."""
    found = []
    for lead in range(0xB0, 0xD0):
        for trail in range(0xA1, 0xFF):
            try:
                found.append(ord(bytes((lead, trail)).decode("euc_jp")))
            except UnicodeDecodeError:
                continue
    return found


def main(source: str) -> None:
    codepoints = [c for lo, hi in RANGES for c in range(lo, hi + 1)] + jis_level1_kanji()
    options = subset.Options()
    options.layout_features = ["kern", "palt", "vert"]
    options.name_IDs = ["*"]
    font = subset.load_font(source, options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=codepoints)
    subsetter.subset(font)
    subset.save_font(font, str(OUT), options)


if __name__ == "__main__":
    main(sys.argv[1])
