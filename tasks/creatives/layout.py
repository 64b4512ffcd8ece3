"""Type that fits: text set inside a box, shrinking, wrapping, then cut with an ellipsis.

Pure functions over Pillow fonts. A block never leaves its box: its font size is the largest
between the slot's max and min at which every line fits the width and all lines the height;
at the min size the last line that fits ends in '…'. A single word wider than the box forces
a smaller size, and is broken only at the min size. CJK text breaks between any two
characters, Latin text between words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from fontTools.ttLib import TTFont
from PIL import ImageDraw, ImageFont

from tasks.creatives import fonts

ELLIPSIS = "…"
LINE_GAP = 0.12  # extra space between lines, in font sizes
# Characters a CJK font has to set, and the tokens lines break between: a CJK character
# alone, a katakana word whole, a Latin word, a run of spaces.
_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
_TOKENS = re.compile(
    r"[\u30a0-\u30ff]+|[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]|[^\s\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]+|\s+"
)


@dataclass
class TextBlock:
    """Lines set in one font, each with its top-left position on the canvas."""

    lines: list[str]
    font: ImageFont.FreeTypeFont
    positions: list[tuple[int, int]]
    size: int
    truncated: bool = False
    missing: str = ""  # characters the font has no glyph for (drawn as its notdef box)
    line_height: int = 0
    widths: list[int] = field(default_factory=list)

    def bounds(self) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) of the ink of every line, on the canvas."""
        boxes = [self.font.getbbox(line, anchor="la") for line in self.lines]
        lefts = [x + b[0] for (x, _), b in zip(self.positions, boxes, strict=True)]
        tops = [y + b[1] for (_, y), b in zip(self.positions, boxes, strict=True)]
        rights = [x + b[2] for (x, _), b in zip(self.positions, boxes, strict=True)]
        bottoms = [y + b[3] for (_, y), b in zip(self.positions, boxes, strict=True)]
        return min(lefts), min(tops), max(rights), max(bottoms)


def font_path(text: str) -> str:
    """The font file that has glyphs for `text`: the CJK one as soon as any CJK appears."""
    return str(fonts.CJK if _CJK.search(text) else fonts.LATIN)


@cache
def get_font(path: str, size: int, weight: str = "Bold") -> ImageFont.FreeTypeFont:
    font = ImageFont.truetype(path, size)
    try:
        font.set_variation_by_name(weight)
    except OSError:  # not a variable font: it has the one weight it has
        pass
    return font


@cache
def _cmap(path: str) -> frozenset[int]:
    with TTFont(path, lazy=True) as font:
        return frozenset(font.getBestCmap())


def missing_glyphs(text: str, path: str) -> str:
    """The characters of `text` (other than spaces) that the font at `path` cannot draw."""
    have = _cmap(path)
    return "".join(sorted({c for c in text if not c.isspace() and ord(c) not in have}))


def line_height(font: ImageFont.FreeTypeFont, size: int) -> int:
    ascent, descent = font.getmetrics()
    return ascent + descent + round(LINE_GAP * size)


def wrap(text: str, font: ImageFont.FreeTypeFont, width: int, *, hard: bool) -> list[str] | None:
    """Greedy lines no wider than `width`; None when a word cannot fit and `hard` is off."""
    lines: list[str] = []
    line = ""
    for token in _TOKENS.findall(" ".join(text.split())):
        candidate = line + token
        if font.getlength(candidate) <= width:
            line = candidate
            continue
        if token.isspace():
            lines.append(line)
            line = ""
            continue
        if line.strip():
            lines.append(line.rstrip())
        line = token
        if font.getlength(token) > width:
            if not hard:
                return None
            pieces = _break_word(token, font, width)
            lines.extend(pieces[:-1])
            line = pieces[-1]
    if line.strip():
        lines.append(line.rstrip())
    return [line.strip() for line in lines if line.strip()]


def _break_word(word: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    pieces, piece = [], ""
    for char in word:
        if piece and font.getlength(piece + char) > width:
            pieces.append(piece)
            piece = ""
        piece += char
    return [*pieces, piece]


def ellipsise(line: str, font: ImageFont.FreeTypeFont, width: int) -> str:
    """`line` cut so that it and a trailing '…' fit `width`."""
    while line and font.getlength(line.rstrip(" ,.;:-–") + ELLIPSIS) > width:
        line = line[:-1]
    return line.rstrip(" ,.;:-–") + ELLIPSIS


def fit_text(
    text: str,
    box: tuple[int, int, int, int],
    *,
    max_size: int,
    min_size: int,
    max_lines: int,
    weight: str = "Bold",
    align: str = "left",
) -> TextBlock:
    """`text` set as large as it fits in `box` (left, top, right, bottom), at most `max_lines`."""
    path = font_path(text)
    width, height = box[2] - box[0], box[3] - box[1]
    size = _estimate_size(text, path, weight, width, height, max_size, min_size, max_lines)
    while size is not None and size >= min_size:  # the estimate, confirmed by real measures
        font = get_font(path, size, weight)
        lines = wrap(text, font, width, hard=False)
        if lines is not None and _fits(lines, font, size, max_lines, height):
            return _place(lines, font, size, box, align, path)
        size -= 1
    return _truncated(text, path, box, min_size, max_lines, weight, align)


def _estimate_size(text, path, weight, width, height, max_size, min_size, max_lines):
    """The largest size whose greedy wrap fits, from token widths measured once at max_size.

    Advances scale linearly with the size, so one measure per token serves every candidate
    size; `fit_text` then checks the pick with real measures (kerning across tokens)."""
    font = get_font(path, max_size, weight)
    tokens = _TOKENS.findall(" ".join(text.split()))
    widths = [font.getlength(token) for token in tokens]
    lo, hi, best = min_size, max_size, None
    while lo <= hi:
        size = (lo + hi) // 2
        scale = size / max_size
        lines = _count_lines(tokens, [w * scale for w in widths], width)
        step = line_height(get_font(path, size, weight), size)
        if lines is not None and lines <= max_lines and lines * step - LINE_GAP * size <= height:
            best, lo = size, size + 1
        else:
            hi = size - 1
    return best


def _count_lines(tokens: list[str], widths: list[float], width: int) -> int | None:
    lines, used = 1, 0.0
    for token, token_width in zip(tokens, widths, strict=True):
        if token.isspace():
            used += token_width
            continue
        if token_width > width:
            return None
        if used + token_width > width and used > 0:
            lines, used = lines + 1, token_width
        else:
            used += token_width
    return lines


def _fits(lines: list[str], font, size: int, max_lines: int, height: int) -> bool:
    return (
        len(lines) <= max_lines
        and len(lines) * line_height(font, size) - round(LINE_GAP * size) <= height
    )


def _truncated(text, path, box, min_size, max_lines, weight, align) -> TextBlock:
    width, height = box[2] - box[0], box[3] - box[1]
    size = min_size
    font = get_font(path, size, weight)
    step = line_height(font, size)
    while size > 6 and step - round(LINE_GAP * size) > height:  # not even one line fits
        size -= 1
        font = get_font(path, size, weight)
        step = line_height(font, size)
    room = max(1, min(max_lines, (height + round(LINE_GAP * size)) // step))
    lines = wrap(text, font, width, hard=True) or [text]
    cut = len(lines) > room
    if cut:
        lines = [*lines[: room - 1], ellipsise(" ".join(lines[room - 1 :]), font, width)]
    block = _place(lines, font, size, box, align, path)
    block.truncated = cut
    return block


def _place(lines, font, size, box, align, path) -> TextBlock:
    step = line_height(font, size)
    widths = [round(font.getlength(line)) for line in lines]
    positions = []
    for index, line_width in enumerate(widths):
        free = box[2] - box[0] - line_width
        offset = {"left": 0, "centre": free // 2, "right": free}[align]
        positions.append((box[0] + offset, box[1] + index * step))
    missing = missing_glyphs("".join(lines), path)
    return TextBlock(lines, font, positions, size, missing=missing, line_height=step, widths=widths)


def draw_text(draw: ImageDraw.ImageDraw, block: TextBlock, colour: tuple[int, int, int]) -> None:
    """Draw every line of `block` in `colour`."""
    for line, position in zip(block.lines, block.positions, strict=True):
        draw.text(position, line, font=block.font, fill=colour, anchor="la")
