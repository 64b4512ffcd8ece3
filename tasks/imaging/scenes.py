"""Staged scenes: a seller's photo plus a SceneSpec, the product placed, lit and matched to it.

A scene is read through a `read(key) -> bytes` callable (tasks/storage.py `Storage.read` on a
folder or an s3:// prefix). The photo's key is relative to its spec's folder. Decoded, framed
scenes are kept per process, keyed by the bytes' digest, so a batch decodes each scene once
and a replaced photo is never served from the cache.
"""

from __future__ import annotations

import hashlib
import io
import json
import posixpath
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageOps
from pydantic import ValidationError

from schemas.looks import Harmonise, SceneBackdrop, SceneSpec

# Framed scenes kept per process (each a few MB at 2000 px).
_CACHE_SIZE = 8
_CACHE: dict[tuple[str, int], Scene] = {}
# Pixels a mean is measured on, at most (an even sample).
_SAMPLE = 60_000
# Rec. 601 luma weights: how bright a colour looks.
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


class SceneError(ValueError):
    """A scene that cannot be used: missing, unreadable, or a spec that does not fit."""


@dataclass(frozen=True)
class Scene:
    """A scene photo framed to a square output: its pixels and where the product may stand."""

    spec: SceneSpec
    canvas: np.ndarray  # side x side x 3 uint8, read-only: copy before drawing on it
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in canvas pixels


def read_spec(step: SceneBackdrop, read: Callable[[str], bytes]) -> tuple[SceneSpec, bytes]:
    """The spec and the photo's bytes, or a SceneError that says what is wrong, in one line."""
    try:
        spec = SceneSpec.model_validate(json.loads(read(step.spec)))
    except (OSError, KeyError) as error:
        raise SceneError(f"scene spec {step.spec!r} cannot be read: {error}") from error
    except (ValueError, ValidationError) as error:
        first = str(error).splitlines()[-1].strip() if str(error) else type(error).__name__
        raise SceneError(f"scene spec {step.spec!r} is not a valid scene: {first}") from error
    key = posixpath.join(posixpath.dirname(step.spec), spec.image)
    try:
        return spec, read(key)
    except (OSError, KeyError) as error:
        raise SceneError(f"scene photo {key!r} cannot be read: {error}") from error


def load_scene(step: SceneBackdrop, read: Callable[[str], bytes], side: int) -> Scene:
    """The scene of `step` framed to a `side` px square (cached by content)."""
    spec, data = read_spec(step, read)
    digest = hashlib.sha256(data + spec.model_dump_json().encode()).hexdigest()
    cached = _CACHE.get((digest, side))
    if cached is None:
        cached = frame(spec, _decode(data, step.spec), side)
        while len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[(digest, side)] = cached
    return cached


def _decode(data: bytes, name: str) -> Image.Image:
    try:
        with Image.open(io.BytesIO(data)) as opened:
            return ImageOps.exif_transpose(opened).convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise SceneError(f"scene photo of {name!r} is not a readable image: {error}") from error


def frame(spec: SceneSpec, photo: Image.Image, side: int) -> Scene:
    """`photo` centre-cropped to a square and resized to `side`; the spec's box mapped onto it.
    A box that falls outside the square would place the product off-canvas: SceneError."""
    width, height = photo.size
    crop = min(width, height)
    left, top = (width - crop) // 2, (height - crop) // 2
    x0, y0, x1, y1 = spec.box
    box = (x0 * width - left, y0 * height - top, x1 * width - left, y1 * height - top)
    if min(box) < -0.5 or max(box) > crop + 0.5:
        raise SceneError(
            f"scene box {spec.box} places the product off the square output "
            f"(the photo is {width}x{height}; the output keeps its centre {crop}x{crop})"
        )
    square = photo.crop((left, top, left + crop, top + crop))
    pixels = cv2.resize(np.asarray(square), (side, side), interpolation=cv2.INTER_AREA)
    pixels.setflags(write=False)
    scale = side / crop
    mapped = tuple(int(round(min(max(v * scale, 0), side))) for v in box)
    return Scene(spec, pixels, mapped)  # type: ignore[arg-type]


def placement(scene: Scene, product: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """Size and top-left of the product fitted into the scene's box, scaled by the spec's
    `scale`, standing on the box's bottom edge, centred across it."""
    x0, y0, x1, y1 = scene.box
    fit = scene.spec.scale * min((x1 - x0) / product[0], (y1 - y0) / product[1])
    size = (max(1, round(product[0] * fit)), max(1, round(product[1] * fit)))
    return size, ((x0 + x1 - size[0]) // 2, y1 - size[1])


def _means(pixels: np.ndarray, weight: np.ndarray) -> np.ndarray:
    total = float(weight.sum())
    flat = pixels.reshape(-1, 3).astype(np.float32)
    return (flat * weight.reshape(-1, 1)).sum(axis=0) / max(total, 1e-6)


def harmonise_gains(
    product: np.ndarray, alpha: np.ndarray, around: np.ndarray, step: Harmonise
) -> tuple[float, np.ndarray]:
    """Brightness gain and per-channel colour gains moving `product` (HxWx3, under `alpha`)
    `strength` of the way toward the light of `around` (the scene where it stands), each
    within 1 +- its bound."""
    step_px = max(1, alpha.size // _SAMPLE)  # an even sample measures a mean as well
    weight = (alpha.reshape(-1)[::step_px] >= 128).astype(np.float32)
    mine = _means(product.reshape(-1, 3)[::step_px], weight)
    scene = around.reshape(-1, 3)[:: max(1, around.size // 3 // _SAMPLE)]
    scene = scene.astype(np.float32).mean(axis=0)
    ratio = float(scene @ _LUMA) / max(float(mine @ _LUMA), 1.0)
    brightness = float(
        np.clip(ratio**step.strength, 1 - step.max_brightness, 1 + step.max_brightness)
    )
    cast = scene / max(float(scene.mean()), 1.0)  # the scene's tint, grey = (1, 1, 1)
    colour = np.clip(cast**step.strength, 1 - step.max_colour, 1 + step.max_colour)
    return brightness, colour.astype(np.float32)


def apply_gains(product: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """`product` (HxWx3 uint8) with each channel multiplied by its gain, through a table."""
    levels = np.arange(256, dtype=np.float32)[:, None] * gains[None, :]
    table = np.clip(levels + 0.5, 0, 255).astype(np.uint8)
    return cv2.LUT(product, table[None, :, :])
