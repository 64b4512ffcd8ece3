from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tasks.imaging import png


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_pillow_reads_back_every_pixel(mode: str) -> None:
    rng = np.random.default_rng(3)
    bands = len(mode)
    pixels = rng.integers(0, 256, (37, 53, bands), dtype=np.uint8).squeeze()
    image = Image.fromarray(pixels, mode=mode)
    data = png.encode_png(image)
    back = Image.open(io.BytesIO(data))
    back.load()  # checks every chunk's CRC and the zlib stream
    assert back.format == "PNG" and back.mode == mode and back.size == (53, 37)
    assert np.array_equal(np.asarray(back), pixels)


def test_large_image_spans_several_idat_chunks() -> None:
    noise = np.random.default_rng(5).integers(0, 256, (900, 700, 4), dtype=np.uint8)
    data = png.encode_png(Image.fromarray(noise, mode="RGBA"))
    assert data.count(b"IDAT") >= 2  # 2.5 MB of noise does not compress below 1 MiB
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), noise)


def test_other_modes_go_through_pillow() -> None:
    image = Image.new("P", (10, 10), 3)
    image.putpalette([0, 0, 0, 9, 9, 9, 50, 50, 50, 200, 100, 0])
    back = Image.open(io.BytesIO(png.encode_png(image)))
    assert back.mode == "P" and back.convert("RGB").getpixel((5, 5)) == (200, 100, 0)


def test_smaller_than_pillow_at_the_same_level_on_a_photo_cutout() -> None:
    photo = Image.open("samples/product.jpg").convert("RGBA")
    photo.putalpha(photo.convert("L").point(lambda v: 255 if v < 200 else 0))
    ours = png.encode_png(photo)
    pillows = io.BytesIO()
    photo.save(pillows, format="PNG", compress_level=1)
    assert len(ours) < len(pillows.getvalue())
