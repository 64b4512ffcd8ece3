"""Shadows and reflections under a placed product, drawn onto the canvas before the product.

The product is pasted over the result, so no shadow can darken an opaque product pixel. Every
layer is confined to the canvas minus the step's `edge_clearance`: a white preset's outer ring
stays exactly white. Shadows are smooth, so they are drawn at 1/SCALE of the canvas and
stretched back; only the box the shadow covers is touched at full resolution.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from schemas.looks import ContactShadow, DropShadow, ReflectionShadow

# Shadows are drawn at 1/SCALE of the canvas: blurred anyway, they lose nothing.
SCALE = 4
# How flat the floor looks: depth on the floor shows on screen shortened to this share.
FLOOR_TILT = 0.3
# A cast shadow fades over this share of the product's height, as it does under a soft light.
FADE = 0.25
# Shadow strength below which a pixel is left alone (under half a level of 255).
_FAINT = 1.0 / 512.0


class Placement:
    """A product's alpha (HxW uint8, at output size) and its top-left corner on a canvas."""

    def __init__(self, alpha: np.ndarray, origin: tuple[int, int], canvas: tuple[int, int]):
        self.alpha, self.origin, self.canvas = alpha, origin, canvas

    def small(self) -> tuple[np.ndarray, float, int, int]:
        """The alpha placed on a 1/SCALE canvas (float 0..1), the product's height there,
        and its bottom row and left column."""
        width, height = (max(1, side // SCALE) for side in self.canvas)
        small = np.zeros((height, width), np.float32)
        h, w = self.alpha.shape
        sw, sh = max(1, round(w / SCALE)), max(1, round(h / SCALE))
        shrunk = cv2.resize(self.alpha, (sw, sh), interpolation=cv2.INTER_AREA)
        x, y = self.origin[0] // SCALE, self.origin[1] // SCALE
        region = small[y : y + sh, x : x + sw]
        region[:] = shrunk[: region.shape[0], : region.shape[1]] / 255.0
        rows = np.flatnonzero((small > 0.5).any(axis=1))
        top, bottom = (rows[0], rows[-1]) if rows.size else (y, y + sh - 1)
        return small, float(bottom - top + 1), int(bottom), x


def _gauss(values: np.ndarray, sigma: float) -> np.ndarray:
    if sigma < 0.5:
        return values
    return cv2.GaussianBlur(values, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)


def _gauss_row(values: np.ndarray, sigma: float) -> np.ndarray:
    """A 1-D Gaussian blur of a row (N,), zeros beyond its ends."""
    side = 2 * int(3 * sigma) + 1
    row = values.astype(np.float32)[None, :]
    return cv2.GaussianBlur(row, (side, 1), sigma, borderType=cv2.BORDER_CONSTANT)[0]


def _contact(small: np.ndarray, height: float, bottom: int, step: ContactShadow | DropShadow):
    """Contact shadow along the mask's lower contour: under each column, a tight dark core at
    the column's lowest product pixel, weighted by how near the floor that pixel is (a car's
    wheels touch it, the body between them does not), and a wide soft skirt on the floor
    line, as broad as the product's lower part."""
    spread = max(1.0, getattr(step, "spread", 0.04) * height)
    solid = small > 0.5
    any_solid = solid.any(axis=0)
    low = np.where(any_solid, solid.shape[0] - 1 - np.argmax(solid[::-1], axis=0), -1)
    near = np.exp(-np.maximum(bottom - low, 0) / max(1.0, 0.03 * height)) * any_solid
    wide = np.exp(-np.maximum(bottom - low, 0) / max(1.0, 0.2 * height)) * any_solid
    near = _gauss_row(near, max(1.0, 0.2 * spread))
    wide = _gauss_row(wide, max(1.0, 0.6 * spread))
    floor = np.where(any_solid, low, bottom).astype(np.float32)
    floor = cv2.GaussianBlur(  # the contour without its steps
        floor[None, :],
        (2 * int(1.5 * spread) + 1, 1),
        0.5 * spread,
        borderType=cv2.BORDER_REPLICATE,
    )[0]
    d = np.arange(small.shape[0], dtype=np.float32)[:, None] - floor[None, :]
    core = np.exp(-np.abs(d) / max(1.0, 0.12 * spread))
    below = np.arange(small.shape[0], dtype=np.float32)[:, None] - bottom
    skirt = np.exp(-((below / np.where(below < 0, 0.4 * spread, spread)) ** 2))
    layer = core * near[None, :] + 0.45 * skirt * wide[None, :]
    return np.clip(layer, 0.0, 1.0).astype(np.float32)


def _cast(small: np.ndarray, height: float, bottom: int, step: DropShadow) -> np.ndarray:
    """The silhouette projected onto the floor away from the light (an affine map that keeps
    the contact line in place)."""
    reach = 1.0 / math.tan(math.radians(step.elevation))
    angle = math.radians(step.direction)
    a = reach * math.cos(angle)
    b = reach * math.sin(angle) * FLOOR_TILT
    if abs(b) < 0.02:
        b = math.copysign(0.02, b) if b else -0.02  # side light: a sliver of depth, not a line
    dx = step.distance * height * math.cos(angle)
    dy = step.distance * height * math.sin(angle) * FLOOR_TILT
    matrix = np.float32([[1, -a, bottom * a + dx], [0, -b, bottom * (1 + b) + dy]])
    size = (small.shape[1], small.shape[0])
    cast = cv2.warpAffine(small, matrix, size, flags=cv2.INTER_LINEAR)
    far = np.abs(np.arange(size[1], dtype=np.float32) - bottom)[:, None]
    return cast * np.exp(-far / max(1.0, FADE * height))  # fainter away from the contact


def _window(shape: tuple[int, int], clearance: int) -> np.ndarray:
    """1 inside the canvas less `clearance` (plus the same again to fade over), 0 outside."""
    height, width = shape

    def ramp(n: int) -> np.ndarray:
        i = np.arange(n, dtype=np.float32)
        edge = np.minimum(i, n - 1 - i)
        return np.clip((edge - clearance) / max(1, clearance), 0.0, 1.0)

    return ramp(height)[:, None] * ramp(width)[None, :]


def shadow_layer(
    step: ContactShadow | DropShadow, place: Placement
) -> tuple[np.ndarray, tuple[int, int]] | None:
    """The shadow's strength (float32 0..1) over a box of the canvas and that box's top-left,
    or None when it is too faint to show."""
    small, height, bottom, _ = place.small()
    layer = _contact(small, height, bottom, step)
    if isinstance(step, DropShadow):
        cast = _gauss(_cast(small, height, bottom, step), step.softness * height)
        layer = np.maximum(cast, 0.6 * layer)
    else:
        layer = _gauss(layer, step.softness * height)
    clearance = round(step.edge_clearance * min(place.canvas) / SCALE)
    if clearance:
        layer *= _window(layer.shape, clearance + 1)
    layer *= step.opacity
    rows = np.flatnonzero(layer.max(axis=1) > _FAINT)
    cols = np.flatnonzero(layer.max(axis=0) > _FAINT)
    if not rows.size:
        return None
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    full = _stretch(layer[y0:y1, x0:x1], (x0 * SCALE, y0 * SCALE), place.canvas)
    return full, (x0 * SCALE, y0 * SCALE)


def _stretch(part: np.ndarray, origin: tuple[int, int], canvas: tuple[int, int]) -> np.ndarray:
    width = min(part.shape[1] * SCALE, canvas[0] - origin[0])
    height = min(part.shape[0] * SCALE, canvas[1] - origin[1])
    big = cv2.resize(part, (part.shape[1] * SCALE, part.shape[0] * SCALE), cv2.INTER_LINEAR)
    return big[:height, :width]


def darken(canvas: np.ndarray, layer: np.ndarray, origin: tuple[int, int], colour) -> None:
    """Blend `canvas` (HxWx3 uint8, in place) toward `colour` by `layer`'s strength, in 8-bit
    integer arithmetic (a shadow's 1/255 steps are below what a viewer sees)."""
    x, y = origin
    region = canvas[y : y + layer.shape[0], x : x + layer.shape[1]]
    strength = (layer[: region.shape[0], : region.shape[1]] * 255.0 + 0.5).astype(np.uint8)
    shade = cv2.merge([strength] * 3)
    kept = cv2.multiply(region, cv2.bitwise_not(shade), scale=1 / 255)
    if any(colour):
        tint = np.empty_like(region)
        tint[:] = colour
        kept = cv2.add(kept, cv2.multiply(tint, shade, scale=1 / 255))
    region[:] = kept


def clear_ring(canvas: np.ndarray, before: np.ndarray, clearance: int) -> None:
    """Put the canvas's outer `clearance` px back as they were before any shadow."""
    if clearance <= 0:
        return
    for index in (np.s_[:clearance], np.s_[-clearance:]):
        canvas[index] = before[index]
        canvas[:, index] = before[:, index]


def reflect(canvas: np.ndarray, product: np.ndarray, origin: tuple[int, int], step) -> None:
    """A mirror image of `product` (HxWx4 uint8) under it on `canvas`, fading out."""
    assert isinstance(step, ReflectionShadow)
    h, w = product.shape[:2]
    x, y = origin
    top = y + h + round(step.gap * h)
    length = max(1, round(step.fade * h))
    clearance = round(step.edge_clearance * min(canvas.shape[:2]))
    length = min(length, canvas.shape[0] - clearance - top, h)
    if length <= 0:
        return
    mirror = product[::-1][:length]
    fade = (1.0 - np.arange(length, dtype=np.float32) / length) ** 1.5 * step.opacity
    left, right = max(x, clearance), min(x + w, canvas.shape[1] - clearance)
    mirror = mirror[:, left - x : right - x]
    a = mirror[..., 3:4].astype(np.float32) / 255.0 * fade[:, None, None]
    region = canvas[top : top + length, left:right]
    region[:] = (region * (1.0 - a) + mirror[..., :3] * a + 0.5).astype(np.uint8)
