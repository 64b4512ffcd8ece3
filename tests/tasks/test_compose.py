from __future__ import annotations

import io

import numpy as np
from PIL import Image

from schemas.presets import get_preset
from tasks.imaging.compose import compose, encode, foreground_box, foreground_share


def _mask(size: tuple[int, int], box: tuple[int, int, int, int]) -> Image.Image:
    mask = Image.new("L", size, 0)
    mask.paste(255, box)
    return mask


def test_amazon_main_is_white_square_with_product_filling_85_percent() -> None:
    preset = get_preset("amazon-main")
    image = Image.new("RGB", (1200, 900), (10, 200, 10))
    image.paste((200, 20, 20), (300, 200, 900, 500))  # the product, 600x300
    out = compose(image, _mask(image.size, (300, 200, 900, 500)), preset)
    assert out.size == (2000, 2000) and out.mode == "RGB"
    decoded = np.asarray(Image.open(io.BytesIO(encode(out, preset))))
    product = decoded[..., 1] < 128  # the red product, measured at its mid-edge
    rows, cols = np.where(product)
    assert abs((cols.max() - cols.min() + 1) - 1700) <= 4  # longer side = 85% of 2000
    assert abs((rows.max() - rows.min() + 1) - 850) <= 4
    border = np.concatenate([decoded[:100].reshape(-1, 3), decoded[-100:].reshape(-1, 3)])
    assert (border == 255).all()  # pure white, also after JPEG encoding
    assert not np.any(np.all(decoded == (10, 200, 10), axis=2))  # no backdrop left


def test_transparent_preset_trims_to_product_with_margin() -> None:
    preset = get_preset("transparent")
    image = Image.new("RGB", (400, 400), (0, 0, 255))
    out = compose(image, _mask(image.size, (100, 150, 300, 250)), preset)
    assert out.mode == "RGBA"
    assert out.size == (200 + 2 * 10, 100 + 2 * 10)  # 5% of the longer side each way
    assert out.getpixel((0, 0))[3] == 0 and out.getpixel((110, 60))[3] == 255
    assert Image.open(io.BytesIO(encode(out, preset))).format == "PNG"


def test_foreground_measures() -> None:
    mask = _mask((100, 100), (10, 20, 30, 40))
    assert foreground_box(mask) == (10, 20, 30, 40)
    assert foreground_share(mask) == 400 / 10_000
    assert foreground_box(Image.new("L", (10, 10), 5)) is None


def test_transparent_pixels_do_not_carry_the_original_background() -> None:
    preset = get_preset("transparent")
    image = Image.new("RGB", (400, 400), (0, 0, 255))  # the seller's backdrop
    image.paste((200, 30, 30), (100, 150, 300, 250))
    mask = _mask(image.size, (100, 150, 300, 250))
    mask.paste(128, (100, 150, 110, 250))  # a soft edge keeps its colour
    out = np.asarray(Image.open(io.BytesIO(encode(compose(image, mask, preset), preset))))
    hidden = out[..., 3] == 0
    assert hidden.any() and (out[hidden] == 0).all()
    assert (out[10 + 50, 10 + 5] == (200, 30, 30, 128)).all()
    assert (out[10 + 50, 10 + 100] == (200, 30, 30, 255)).all()
