"""The fonts creatives are set in, both under the SIL Open Font License 1.1 (see NOTICE).

Latin, Greek and Cyrillic: Noto Sans (variable weight), from the PyPI package
`fontpkg-noto-sans`. Japanese: Noto Sans JP Bold, cut to kana and the common kanji and shipped
here (subset_cjk.py rebuilds it from the npm package @expo-google-fonts/noto-sans-jp).
"""

from __future__ import annotations

from pathlib import Path

import fontpkg_noto_sans

LATIN = fontpkg_noto_sans.ROOT / "files" / "NotoSans[wdth,wght].ttf"
CJK = Path(__file__).with_name("NotoSansJP-Bold-subset.ttf")
