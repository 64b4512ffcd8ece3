from __future__ import annotations

import pytest
from PIL import Image, ImageChops, ImageDraw

from tasks.creatives import fonts
from tasks.creatives.layout import ELLIPSIS, draw_text, fit_text, get_font, missing_glyphs

BOX = (60, 150, 1020, 296)  # the feed ad's headline slot
SAMPLES = {
    "accents": "Crème brûlée, Señor Müller’s Déjà-vu Édition",
    "german": "Straßenschuh Größe 42 – äußerst bequem",
    "signs": "Preis €1.299,00 statt ¥150,000",
    "japanese": "桜の刺繍ハンドバッグ　春限定モデル（本革）",
}
LONG = " ".join(["Wasserdichte Trekkingjacke mit abnehmbarer Kapuze"] * 6)


def _inside(bounds, box) -> bool:
    return (
        box[0] <= bounds[0] and box[1] <= bounds[1] and bounds[2] <= box[2] and bounds[3] <= box[3]
    )


def _ink(block, size=(1080, 1080)) -> tuple[int, int, int, int] | None:
    canvas = Image.new("L", size, 0)
    draw_text(ImageDraw.Draw(canvas), block, 255)
    return canvas.getbbox()


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_script_sets_inside_its_slot_with_real_glyphs(name) -> None:
    block = fit_text(SAMPLES[name], BOX, max_size=66, min_size=34, max_lines=2)
    assert block.missing == ""
    assert not block.truncated
    ink = _ink(block)
    assert ink is not None and _inside(ink, BOX), (ink, BOX)
    assert _inside(block.bounds(), BOX)


def test_cjk_glyphs_are_drawn_not_the_missing_glyph_box() -> None:
    font = get_font(str(fonts.CJK), 64)

    def glyph(char: str) -> Image.Image:
        canvas = Image.new("L", (80, 80), 0)
        ImageDraw.Draw(canvas).text((4, 4), char, font=font, fill=255)
        return canvas

    notdef = glyph("\ue000")  # private use: no glyph, the font's notdef (box or blank)
    drawn = [glyph(char) for char in "桜刺繍革ハン"]
    for index, image in enumerate(drawn):
        assert image.getbbox() is not None  # ink, not a blank
        assert ImageChops.difference(image, notdef).getbbox() is not None  # not the notdef
        for other in drawn[index + 1 :]:
            assert ImageChops.difference(image, other).getbbox() is not None  # its own glyph
    assert missing_glyphs("桜の刺繍", str(fonts.CJK)) == ""
    assert missing_glyphs("\ue000", str(fonts.CJK)) == "\ue000"
    assert missing_glyphs("Größe €¥ Édition", str(fonts.LATIN)) == ""


def test_a_short_title_gets_the_largest_size() -> None:
    assert fit_text("Lamp", BOX, max_size=66, min_size=34, max_lines=2).size == 66


def test_a_longer_title_shrinks_before_it_wraps_past_its_lines() -> None:
    title = "Scale Model SUV 1:18 — Midnight Black Édition Spéciale"
    block = fit_text(title, BOX, max_size=66, min_size=34, max_lines=2)
    assert 34 <= block.size < 66 and len(block.lines) == 2 and not block.truncated
    assert " ".join(block.lines) == title
    bigger = fit_text(title, BOX, max_size=block.size + 1, min_size=block.size + 1, max_lines=2)
    assert bigger.truncated  # one size up no longer fits: the size was the largest


def test_a_very_long_title_ends_in_an_ellipsis_inside_its_slot() -> None:
    block = fit_text(LONG, BOX, max_size=66, min_size=34, max_lines=2)
    assert block.truncated and block.size == 34
    assert len(block.lines) == 2 and block.lines[-1].endswith(ELLIPSIS)
    assert _inside(_ink(block), BOX)


def test_one_word_wider_than_the_slot_shrinks_then_breaks() -> None:
    word = "Donaudampfschifffahrtsgesellschaftskapitänsmütze"
    box = (0, 0, 400, 200)
    block = fit_text(word, box, max_size=80, min_size=30, max_lines=3)
    assert block.size == 30 and len(block.lines) >= 2
    assert "".join(block.lines).rstrip(ELLIPSIS) in word
    assert _inside(_ink(block, (400, 200)), box)


def test_a_slot_too_low_for_one_line_at_min_size_still_holds_its_text() -> None:
    box = (10, 10, 500, 30)
    block = fit_text("Hello there", box, max_size=40, min_size=30, max_lines=2)
    assert block.size < 30 and _inside(_ink(block, (600, 100)), box)


@pytest.mark.parametrize("align", ["left", "centre", "right"])
def test_alignment_keeps_lines_inside(align) -> None:
    block = fit_text(SAMPLES["german"], BOX, max_size=66, min_size=34, max_lines=2, align=align)
    ink = _ink(block)
    assert _inside(ink, BOX)
    if align == "right":
        assert BOX[2] - ink[2] < 12
    if align == "left":
        assert ink[0] - BOX[0] < 12
