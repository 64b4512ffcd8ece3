"""Compliance checks on written files built to miss (or meet) each rule."""

from __future__ import annotations

import io
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from schemas.presets import get_preset
from schemas.settings import load_settings
from tasks import model_store
from tasks.imaging.compliance import (
    border_width,
    classify_text,
    evaluate,
    product_in_output,
    route,
    separate_products,
)
from tasks.imaging.text import TextBox, detect

WHITE = (255, 255, 255)


@pytest.fixture(scope="module")
def detector() -> str:
    home = load_settings().model.home.expanduser()
    return str(model_store.pull("pp-ocr-det", home))


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _packshot(text: str | None = None, at: tuple[int, int] = (200, 2)) -> Image.Image:
    """A white 800 px square with a red product in the middle and, maybe, some text."""
    image = Image.new("RGB", (800, 800), WHITE)
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((60, 60, 739, 739), 90, fill=(190, 40, 40))  # 85% of the frame
    if text:
        colour = "black" if at[1] < 60 else "white"
        draw.text(at, text, fill=colour, font=ImageFont.load_default(size=56))
    return image


def _mask_of(image: Image.Image) -> np.ndarray:
    return (product_in_output(np.asarray(image.convert("RGBA")), WHITE) * 255).astype(np.uint8)


def _codes(findings, severity: str) -> set[str]:
    return {f["code"] for f in findings if f["severity"] == severity}


def test_text_on_a_plain_background_is_an_overlay_and_rejects_amazon_main(detector) -> None:
    image = _packshot("SALE -50%")
    findings = evaluate(
        _jpeg(image),
        get_preset("amazon-main"),
        source=np.asarray(image),
        mask=_mask_of(_packshot()),
        text_boxes=partial(detect, model_path=detector),
    )
    overlay = next(f for f in findings if f["code"] == "text_overlay")
    assert overlay["value"] >= 1 and overlay["severity"] == "reject" and "Amazon" in overlay["rule"]
    assert route(0.99, findings, get_preset("amazon-main")) == "reject"


def test_a_label_printed_on_the_product_is_not_an_overlay(detector) -> None:
    image = _packshot("ACME", at=(330, 360))
    boxes = detect(np.asarray(image), detector)
    assert boxes, "the detector should find the label"
    counts = classify_text(boxes, _mask_of(_packshot()) > 0)
    assert counts == {"overlay": 0, "uncertain": 0, "printed": len(boxes)}


def test_a_clean_packshot_passes_everything(detector) -> None:
    image = _packshot()
    findings = evaluate(
        _jpeg(image),
        get_preset("amazon-main"),
        source=np.asarray(image),
        mask=_mask_of(image),
        text_boxes=partial(detect, model_path=detector),
    )
    assert {f["severity"] for f in findings} == {"pass"}
    assert {f["code"] for f in findings} >= {"fill_low", "text_overlay", "added_border"}
    assert route(0.99, findings, get_preset("amazon-main")) == "ready"
    assert route(0.10, findings, get_preset("amazon-main")) == "review"


def test_a_watermark_across_the_product_cannot_be_told_from_print() -> None:
    product = np.zeros((100, 100), bool)
    product[20:80, 20:80] = True
    wide = TextBox(22, 45, 78, 55, 0.9)
    spanning = TextBox(5, 45, 50, 55, 0.9)
    assert classify_text([wide, spanning], product) == {"overlay": 1, "uncertain": 1, "printed": 0}


def test_the_outer_ring_must_be_the_background_exactly() -> None:
    image = _packshot()
    ImageDraw.Draw(image).rectangle((0, 0, 799, 799), outline=(250, 250, 250), width=3)
    findings = evaluate(
        _jpeg(image), get_preset("amazon-main"), source=np.asarray(image), mask=_mask_of(image)
    )
    ring = next(f for f in findings if f["code"] == "background_not_uniform")
    assert ring["value"] > 0.3 and ring["severity"] == "reject"


def test_a_frame_drawn_around_the_source_is_found_and_a_studio_sweep_is_not() -> None:
    framed = np.full((400, 600, 3), 235, np.uint8)
    framed[:] = (20, 20, 20)
    framed[12:-12, 12:-12] = (235, 235, 235)
    framed[150:250, 250:350] = (190, 40, 40)
    assert border_width(framed) == 12
    sweep = np.full((400, 600, 3), 250, np.uint8)
    sweep += (np.linspace(0, 5, 400)[:, None, None]).astype(np.uint8)
    sweep[150:250, 250:350] = (190, 40, 40)
    assert border_width(sweep) == 0


def test_several_products_are_counted() -> None:
    mask = np.zeros((200, 300), np.uint8)
    mask[50:150, 20:120] = 255
    mask[50:150, 180:280] = 255
    mask[10:12, 10:12] = 255  # dust
    assert separate_products(mask) == 2
    findings = evaluate(
        _jpeg(_packshot()),
        get_preset("amazon-main"),
        source=np.zeros((200, 300, 3), np.uint8),
        mask=mask,
    )
    several = next(f for f in findings if f["code"] == "several_products")
    assert several["value"] == 2 and several["severity"] == "review"


def test_every_preset_names_the_rule_of_each_check() -> None:
    for name in ("amazon-main", "google-merchant", "ebay", "transparent"):
        rules = get_preset(name).compliance
        for check in rules.model_dump(exclude={"review_below_confidence"}).values():
            assert check is None or check["rule"]


def test_the_models_file_is_where_the_registry_says(detector) -> None:
    assert Path(detector).name == "ch_PP-OCRv4_det_infer.onnx"


def _labelled_photo() -> tuple[Image.Image, Image.Image]:
    """A grey studio photo of a red box with a black label, a price scrawled on the backdrop,
    and the box's mask (the price is not product)."""
    image = Image.new("RGB", (900, 700), (128, 128, 128))
    draw = ImageDraw.Draw(image)
    draw.rectangle((250, 150, 650, 600), fill=(190, 40, 40))
    draw.text((330, 330), "ACME", fill="black", font=ImageFont.load_default(size=64))
    draw.text((20, 20), "SALE -50%", fill="black", font=ImageFont.load_default(size=56))
    mask = Image.new("L", image.size, 0)
    ImageDraw.Draw(mask).rectangle((250, 150, 650, 600), fill=255)
    return image, mask


def test_the_cutouts_text_is_what_its_plain_outputs_hold(detector) -> None:
    from tasks.imaging.compliance import cutout_text
    from tasks.imaging.recipe import RenderContext, render

    image, mask = _labelled_photo()
    find = partial(detect, model_path=detector)
    counts = cutout_text(np.asarray(image), np.asarray(mask), find)
    assert counts["printed"] >= 1 and counts["overlay"] == 0  # the price went with the backdrop
    preset = get_preset("amazon-main")
    output = np.asarray(render(preset, RenderContext(image, mask)).image.convert("RGBA"))
    searched = classify_text(find(output[..., :3]), product_in_output(output, WHITE))
    assert searched == counts


def test_white_print_on_the_product_is_print_for_the_cutout(detector) -> None:
    from tasks.imaging.compliance import cutout_text

    image, mask = _labelled_photo()
    ImageDraw.Draw(image).rectangle((300, 310, 600, 420), fill=(190, 40, 40))
    ImageDraw.Draw(image).text(
        (330, 330), "ACME", fill="white", font=ImageFont.load_default(size=64)
    )
    counts = cutout_text(np.asarray(image), np.asarray(mask), partial(detect, model_path=detector))
    assert counts == {"overlay": 0, "uncertain": 0, "printed": counts["printed"]}
    assert counts["printed"] >= 1
