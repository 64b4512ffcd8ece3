"""iPhone (HEIC) and AVIF originals, encoded by the tests with pillow-heif and Pillow."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageCms

from schemas.catalog import Reason
from tasks.imaging.decode import Decoded, Rejection, decode_image
from tests.support.images import encoded, product_photo

LIMIT = 50_000_000
FORMATS = ["HEIF", "AVIF"]


def two_colours(size: tuple[int, int] = (120, 80)) -> Image.Image:
    """Red left half, blue right half: where the red ends up shows how it was rotated."""
    w, h = size
    image = Image.new("RGB", size, (220, 20, 20))
    image.paste((20, 20, 220), (w // 2, 0, w, h))
    return image


def decoded(data: bytes) -> Decoded:
    result = decode_image(data, max_pixels=LIMIT)
    assert isinstance(result, Decoded), result
    return result


@pytest.mark.parametrize("fmt", FORMATS)
def test_heif_and_avif_photos_decode_to_their_pixels(fmt: str) -> None:
    photo = product_photo((320, 240))
    result = decoded(encoded(photo, fmt, quality=90))
    assert result.format == fmt
    assert (result.width, result.height) == result.image.size == (320, 240)
    diff = np.abs(np.asarray(result.image, np.int16) - np.asarray(photo, np.int16))
    assert diff.mean() < 4  # lossy, but the same photo


@pytest.mark.parametrize("fmt", FORMATS)
def test_exif_orientation_is_applied_as_for_jpeg(fmt: str) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    photo = two_colours()
    result = decoded(encoded(photo, fmt, quality=90, exif=exif.tobytes()))
    jpeg = decoded(encoded(photo, "JPEG", quality=95, exif=exif.tobytes()))
    assert result.exif_orientation == 6
    assert (result.width, result.height) == result.image.size == (80, 120) == jpeg.image.size
    top, bottom = np.asarray(result.image)[5, 40], np.asarray(result.image)[-5, 40]
    assert top[0] > 150 > top[2] and bottom[2] > 150 > bottom[0]  # red on top, as the JPEG
    assert np.asarray(jpeg.image)[5, 40][0] > 150


@pytest.mark.parametrize("fmt", FORMATS)
def test_embedded_colour_profile_is_read(fmt: str) -> None:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    result = decoded(encoded(product_photo((64, 48)), fmt, icc_profile=profile))
    assert result.icc_profile and "srgb" in result.icc_profile.lower()


@pytest.mark.parametrize("fmt", FORMATS)
def test_truncated_heif_is_corrupt_not_unsupported(fmt: str) -> None:
    data = encoded(product_photo((320, 240)), fmt, quality=90)
    result = decode_image(data[: len(data) // 2], max_pixels=LIMIT)
    assert isinstance(result, Rejection) and result.reason == Reason.CORRUPT, result


@pytest.mark.parametrize("fmt", FORMATS)
def test_pixel_limit_holds_for_heif(fmt: str) -> None:
    result = decode_image(encoded(product_photo((400, 300)), fmt), max_pixels=100_000)
    assert isinstance(result, Rejection) and result.reason == Reason.DECOMPRESSION_BOMB


@pytest.mark.parametrize("fmt", FORMATS)
def test_damaged_heif_bytes_give_a_result_never_an_exception(fmt: str) -> None:
    data = bytearray(encoded(product_photo((160, 120)), fmt, quality=80))
    rng = np.random.default_rng(7)
    for _ in range(60):
        damaged = bytearray(data)
        for at in rng.integers(0, len(data), size=8):
            damaged[at] = int(rng.integers(0, 256))
        result = decode_image(bytes(damaged), max_pixels=LIMIT)
        assert isinstance(result, Decoded | Rejection)
