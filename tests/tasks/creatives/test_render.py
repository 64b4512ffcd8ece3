from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from schemas.creatives import Template, get_template, load_templates
from tasks.creatives.manifest import ManifestRow
from tasks.creatives.render import place_logo, place_product, plain_background, render_creative
from tests.tasks.creatives.helpers import product

ROW = ManifestRow(
    sku="AB-12",
    key=None,
    title="Wasserdichte Trekkingjacke „Größe XL“ mit abnehmbarer Kapuze, Reißverschluss, "
    "Innentaschen, Unterarmbelüftung, reflektierenden Streifen und verstellbarem Saum",
    subtitle="Atmungsaktiv, winddicht, federleicht — für Touren bei jedem Wetter",
    price="€1.299,00",
    badge="Neu",
)


def test_the_four_ad_formats_ship() -> None:
    sizes = {name: (t.width, t.height) for name, t in load_templates().items()}
    assert sizes["ad-feed"] == (1080, 1080)
    assert sizes["ad-portrait"] == (1080, 1350)
    assert sizes["ad-story"] == (1080, 1920)
    assert sizes["ad-link"] == (1200, 628)
    assert load_templates()["ad-feed-scene"].background.generate is not None


def test_a_template_whose_text_would_cover_the_product_is_refused() -> None:
    data = get_template("ad-feed").model_dump()
    data["slots"]["headline"].update(y=0.5, h=0.1)  # into the product slot
    with pytest.raises(ValidationError, match="overlaps the product slot"):
        Template.model_validate(data)
    data = get_template("ad-feed").model_dump()
    data["slots"]["price"].update(x=0.5, w=0.6)  # off the canvas
    with pytest.raises(ValidationError, match="inside the canvas"):
        Template.model_validate(data)


@pytest.mark.parametrize("name", sorted(load_templates()))
def test_every_text_stays_in_its_slot_and_off_the_product(name) -> None:
    template = get_template(name)
    image, mask = product()
    placed = place_product(template, image, mask)
    creative = render_creative(template, placed, ROW)
    assert creative.image.size == (template.width, template.height)
    assert set(creative.blocks) == {"headline", "subline", "price", "badge"}
    product_box = template.slots.product.pixels(template.width, template.height)
    for slot_name, block in creative.blocks.items():
        slot = getattr(template.slots, slot_name).pixels(template.width, template.height)
        left, top, right, bottom = block.bounds()
        assert slot[0] <= left and slot[1] <= top and right <= slot[2] and bottom <= slot[3]
        assert (
            right <= product_box[0]
            or left >= product_box[2]
            or bottom <= product_box[1]
            or (top >= product_box[3])
        )
    assert "headline" in creative.truncated  # this title is too long for two lines anywhere


@pytest.mark.parametrize("name", ["ad-feed", "ad-link"])
def test_the_product_is_the_originals_pixels_inside_its_slot(name) -> None:
    template = get_template(name)
    image, mask = product()
    placed = place_product(template, image, mask)
    left, top, right, bottom = template.slots.product.pixels(template.width, template.height)
    x, y = placed.offset
    w, h = placed.product.size
    assert left <= x and top <= y and x + w <= right and y + h <= bottom
    assert max(w / (right - left), h / (bottom - top)) > 0.99  # fills the slot one way
    creative = render_creative(template, placed, ROW).image
    shown = np.asarray(creative.crop((x, y, x + w, y + h)), np.int16)
    cut = np.asarray(placed.product.convert("RGB"), np.int16)
    opaque = np.asarray(placed.product.getchannel("A")) == 255
    assert np.abs(shown - cut)[opaque].max() == 0  # nothing drawn over the product


def test_the_product_never_carries_the_originals_background() -> None:
    template = get_template("ad-feed")
    image, mask = product()
    placed = place_product(template, image, mask)
    rgba = np.asarray(placed.product)
    assert not ((rgba[..., :3] == (120, 130, 140)).all(axis=-1) & (rgba[..., 3] > 0)).any()


def test_a_logo_keeps_its_transparency() -> None:
    template = get_template("ad-feed")
    canvas = plain_background(template)
    before = np.asarray(canvas).copy()
    logo = Image.new("RGBA", (200, 50), (0, 0, 0, 0))
    logo.paste((10, 200, 30, 255), (0, 0, 100, 50))  # left half opaque green, right clear
    box = place_logo(canvas, logo, template.slots.logo)
    after = np.asarray(canvas)
    slot = template.slots.logo.pixels(template.width, template.height)
    assert slot[0] <= box[0] and box[2] <= slot[2] and slot[1] <= box[1] and box[3] <= slot[3]
    middle = (box[1] + box[3]) // 2
    assert tuple(after[middle, box[0] + 5]) == (10, 200, 30)
    clear = box[2] - 5
    assert (after[middle, clear] == before[middle, clear]).all()  # background shows through


def test_text_on_a_dark_generated_background_turns_light() -> None:
    template = get_template("ad-feed")
    image, mask = product()
    dark = Image.new("RGB", (template.width, template.height), (30, 30, 34))
    creative = render_creative(template, place_product(template, image, mask), ROW, background=dark)
    left, top, right, bottom = creative.blocks["headline"].bounds()
    pixels = np.asarray(creative.image.crop((left, top, right, bottom)))
    assert pixels.max() > 200  # brand text is near-black; on near-black it is drawn white


def test_a_template_can_stand_on_any_procedural_backdrop_the_presets_have() -> None:
    from schemas.presets import get_preset
    from tasks.creatives.render import plain_background

    template = get_preset("ad-portrait")
    assert template.background.painted == "radial"
    canvas = plain_background(template)
    centre = canvas.getpixel((540, int(1350 * 0.55)))
    corner = canvas.getpixel((0, 0))
    assert canvas.size == (1080, 1350) and sum(centre) > sum(corner)  # the glow behind the product
