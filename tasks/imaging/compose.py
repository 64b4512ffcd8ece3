"""Cutout and composition: (image, mask, preset) -> the deliverable image and its bytes."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageChops

from schemas.presets import Preset
from tasks.imaging.png import encode_png
from tasks.imaging.resample import bilinear

# Mask values at or above this (0..255) count as product when finding its bounds: low enough
# to keep soft edges (hair, fur), high enough to ignore the model's faint background noise.
FOREGROUND_THRESHOLD = 32
# Below this share of the frame the model found no product worth composing.
MIN_FOREGROUND_SHARE = 0.002


def mask_from_raw(raw: np.ndarray, size: tuple[int, int]) -> Image.Image:
    """An 8-bit mask of `size` from a model's raw output (SxS float, 0..1)."""
    levels = (np.clip(raw, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return Image.fromarray(bilinear(levels, size))  # 2-D uint8: mode L


def foreground_share(mask: Image.Image) -> float:
    """Share of the mask's pixels that are product."""
    histogram = mask.histogram()
    return sum(histogram[FOREGROUND_THRESHOLD:]) / (mask.width * mask.height)


def foreground_box(mask: Image.Image) -> tuple[int, int, int, int] | None:
    """Bounding box of the product in the mask, or None when there is none."""
    return mask.point(lambda v: 255 if v >= FOREGROUND_THRESHOLD else 0).getbbox()


def cutout(image: Image.Image, mask: Image.Image) -> Image.Image:
    """The image with the mask as its alpha channel (the original alpha kept where lower)."""
    rgba = image.convert("RGBA")
    if image.mode == "RGBA":
        mask = ImageChops.darker(mask, image.getchannel("A"))
    rgba.putalpha(mask)
    return rgba


def compose(image: Image.Image, mask: Image.Image, preset: Preset) -> Image.Image:
    """The deliverable for `preset`; the mask must contain a product (see foreground_box)."""
    box = foreground_box(mask)
    if box is None:
        raise ValueError("the mask has no foreground")
    product = cutout(image.crop(box), mask.crop(box))  # only the product's pixels converted
    if preset.layout == "trim":
        return _trim(product, preset)
    return _square(product, preset)


def _trim(product: Image.Image, preset: Preset) -> Image.Image:
    pad = round(max(product.size) * preset.margin)
    return _place(product, (product.width + 2 * pad, product.height + 2 * pad), (pad, pad), preset)


def _square(product: Image.Image, preset: Preset) -> Image.Image:
    assert preset.size is not None and preset.fill is not None
    target = preset.size * preset.fill
    scale = target / max(product.size)
    size = (max(1, round(product.width * scale)), max(1, round(product.height * scale)))
    product = product.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0)
    offset = ((preset.size - size[0]) // 2, (preset.size - size[1]) // 2)
    return _place(product, (preset.size, preset.size), offset, preset)


# Alpha -> paste mask: 255 where a pixel shows at all, 0 where it is fully transparent.
_SHOWN = [0] + [255] * 255


def _place(
    product: Image.Image, size: tuple[int, int], offset: tuple[int, int], preset: Preset
) -> Image.Image:
    """`product` (RGBA) at `offset` on a canvas of `size`: the preset's background, or none.

    Without a background, fully transparent pixels end black, colour and all: they are
    invisible, but would still carry the original background (the seller's room would ship
    inside every transparent PNG, and it compresses far worse than zeros). Pasting through a
    shown/hidden mask onto a blank canvas does that in the one copy: the `transparent` preset's
    composition takes 7.9 ms per photo here, against 17 ms when numpy cleared a pasted canvas.
    """
    if preset.background is None:
        canvas = Image.new("RGBA", size, (0, 0, 0, 0))
        canvas.paste(product, offset, product.getchannel("A").point(_SHOWN))
        return canvas
    flat = Image.new("RGB", size, preset.background)
    flat.paste(product, offset, product)
    return flat


def encode(image: Image.Image, preset: Preset) -> bytes:
    """The image encoded in the preset's format."""
    if preset.output.format == "PNG":
        return encode_png(image)  # ~8x faster than Pillow's own encoder at level 1
    out = io.BytesIO()
    options: dict[str, object] = {}
    if preset.output.format == "JPEG":
        options = {"quality": preset.output.quality or 90, "optimize": False, "subsampling": 0}
    elif preset.output.format == "WEBP":
        options = {"quality": preset.output.quality or 90, "method": 4}
    image.save(out, format=preset.output.format, **options)
    return out.getvalue()
