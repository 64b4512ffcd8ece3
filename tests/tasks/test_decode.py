from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from schemas.catalog import Reason
from tasks.imaging.decode import Decoded, Rejection, decode_image
from tests.support.images import encoded, product_photo

LIMIT = 50_000_000


def decode(data: bytes, max_pixels: int = LIMIT) -> Decoded | Rejection:
    return decode_image(data, max_pixels=max_pixels)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", Reason.EMPTY_FILE),
        (b"<!doctype html><html><body>404</body></html>", Reason.NOT_AN_IMAGE),
        (b"just some text, not a photo\n" * 10, Reason.NOT_AN_IMAGE),
        (
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>',
            Reason.UNSUPPORTED_FORMAT,
        ),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", Reason.UNSUPPORTED_FORMAT),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", Reason.CORRUPT),
    ],
)
def test_bad_bytes_get_a_specific_reason(data: bytes, reason: Reason) -> None:
    result = decode(data)
    assert isinstance(result, Rejection)
    assert result.reason == reason
    assert result.detail


def test_truncated_jpeg_is_corrupt() -> None:
    data = encoded(product_photo((800, 600)))
    result = decode(data[: len(data) // 2])
    assert isinstance(result, Rejection) and result.reason == Reason.CORRUPT


def test_pixel_limit_is_enforced_from_the_header() -> None:
    # A 6000x6000 PNG of one colour is small on disk: the classic decompression bomb shape.
    data = encoded(Image.new("L", (6000, 6000), 0), "PNG", optimize=True)
    result = decode(data, max_pixels=20_000_000)
    assert isinstance(result, Rejection) and result.reason == Reason.DECOMPRESSION_BOMB
    assert "36,000,000" in result.detail


def test_extension_lies_the_bytes_decide() -> None:
    result = decode(encoded(product_photo(), "PNG"))  # whatever the key's extension says
    assert isinstance(result, Decoded) and result.format == "PNG"


def test_exif_orientation_is_applied() -> None:
    image = product_photo((400, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    result = decode(encoded(image, exif=exif.tobytes()))
    assert isinstance(result, Decoded)
    assert result.exif_orientation == 6
    assert (result.width, result.height) == (200, 400)


def test_sixteen_bit_greyscale_is_scaled_not_clipped() -> None:
    ramp = np.linspace(0, 65535, 256 * 256, dtype=np.uint16).reshape(256, 256)
    result = decode(encoded(Image.fromarray(ramp), "PNG"))
    assert isinstance(result, Decoded) and result.mode.startswith("I")
    values = np.asarray(result.image)[..., 0]
    assert values.min() == 0 and values.max() >= 254
    assert 100 < values.mean() < 155  # clipping at 255 would make nearly everything white


def test_cmyk_becomes_rgb() -> None:
    result = decode(encoded(product_photo().convert("CMYK")))
    assert isinstance(result, Decoded) and result.mode == "CMYK" and result.image.mode == "RGB"


def test_palette_with_transparency_keeps_alpha() -> None:
    image = Image.new("P", (64, 64), 0)
    image.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    image.paste(1, (16, 16, 48, 48))
    result = decode(encoded(image, "PNG", transparency=0))
    assert isinstance(result, Decoded) and result.image.mode == "RGBA"
    assert result.image.getpixel((0, 0))[3] == 0 and result.image.getpixel((32, 32))[3] == 255


def test_greyscale_becomes_rgb() -> None:
    result = decode(encoded(product_photo().convert("L")))
    assert isinstance(result, Decoded) and result.mode == "L" and result.image.mode == "RGB"


def test_draft_decode_is_reduced_but_reports_the_full_oriented_size() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encoded(product_photo((2400, 1600)), exif=exif.tobytes())
    full, draft = decode(data), decode_image(data, max_pixels=LIMIT, draft=True)
    assert isinstance(full, Decoded) and isinstance(draft, Decoded)
    assert (full.width, full.height) == (draft.width, draft.height) == (1600, 2400)
    assert full.image.size == (1600, 2400)
    assert max(draft.image.size) <= 1200  # decoded at 1/2 scale or less
