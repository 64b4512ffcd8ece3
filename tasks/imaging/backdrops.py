"""Procedural backdrops: (step, size) -> an RGB canvas (HxWx3 uint8).

Gradients are smooth, so each is drawn as a blend weight on a small grid, stretched to the
canvas by bilinear interpolation, and turned into colour through one lookup table per channel:
the canvas costs a resize and a table look-up, not float arithmetic on every pixel.
"""

from __future__ import annotations

import cv2
import numpy as np

from schemas.looks import LinearBackdrop, RadialBackdrop, SolidBackdrop, SweepBackdrop

# Side of the grid a gradient's weight is drawn on before it is stretched to the canvas.
GRID = 256


def solid(step: SolidBackdrop, size: tuple[int, int]) -> np.ndarray:
    canvas = np.empty((size[1], size[0], 3), dtype=np.uint8)
    canvas[0] = step.colour
    canvas[1:] = canvas[0]  # row copies: 50x faster than broadcasting the colour per pixel
    return canvas


def _grid(size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (shares of width and height) of a grid of the canvas's aspect."""
    width, height = size
    scale = GRID / max(width, height)
    cols, rows = max(2, round(width * scale)), max(2, round(height * scale))
    x = (np.arange(cols, dtype=np.float32) + 0.5) / cols
    y = (np.arange(rows, dtype=np.float32) + 0.5) / rows
    return x[None, :], y[:, None]


def _paint(weight: np.ndarray, start: tuple, end: tuple, size: tuple[int, int]) -> np.ndarray:
    """Colour `start` where `weight` is 0 to `end` where it is 1, stretched to `size`."""
    levels = (np.clip(weight, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    levels = cv2.resize(levels, size, interpolation=cv2.INTER_LINEAR)
    ramp = np.linspace(0.0, 1.0, 256, dtype=np.float32)[:, None]
    table = np.asarray(start, np.float32) + ramp * (np.asarray(end, np.float32) - start)
    table = (table + 0.5).astype(np.uint8)  # 256 x 3
    return cv2.merge([cv2.LUT(levels, np.ascontiguousarray(table[:, c])) for c in range(3)])


def linear(step: LinearBackdrop, size: tuple[int, int]) -> np.ndarray:
    x, y = _grid(size)
    angle = np.deg2rad(step.angle)
    dx, dy = np.cos(angle), np.sin(angle)
    along = (x - 0.5) * dx * size[0] + (y - 0.5) * dy * size[1]
    half = 0.5 * (abs(dx) * size[0] + abs(dy) * size[1])
    return _paint(along / (2 * half) + 0.5, step.start, step.end, size)


def radial(step: RadialBackdrop, size: tuple[int, int]) -> np.ndarray:
    x, y = _grid(size)
    cx, cy = step.centre
    diagonal = float(np.hypot(*size))
    distance = np.hypot((x - cx) * size[0], (y - cy) * size[1]) / (step.radius * diagonal)
    return _paint(distance, step.inner, step.outer, size)


def sweep(step: SweepBackdrop, size: tuple[int, int]) -> np.ndarray:
    """Wall above the horizon, floor below, a smoothstep curve between them; the floor is
    shaded by `floor_shade` just under the curve, where the light grazes it. A sweep changes
    only down the canvas, so one colour per row is computed and repeated across."""
    width, height = size
    y = (np.arange(height, dtype=np.float32) + 0.5) / height
    top, bottom = step.horizon - step.curve / 2, step.horizon + step.curve / 2
    t = np.clip((y - top) / (bottom - top), 0.0, 1.0)
    blend = (t * t * (3 - 2 * t))[:, None]
    wall, floor = np.asarray(step.wall, np.float32), np.asarray(step.floor, np.float32)
    rows = wall + blend * (floor - wall)
    shade = step.floor_shade * np.exp(-(((y - bottom) / step.curve) ** 2)) * (y > top)
    rows = rows * (1.0 - shade)[:, None]
    rows = (rows + 0.5).astype(np.uint8)
    planes = [np.empty((height, width), np.uint8) for _ in range(3)]
    for index, plane in enumerate(planes):
        plane[:] = rows[:, index : index + 1]  # plane by plane: contiguous fills, then merged
    return cv2.merge(planes)


PAINTERS = {"solid": solid, "linear": linear, "radial": radial, "sweep": sweep}


def paint(step: object, size: tuple[int, int]) -> np.ndarray:
    """The canvas of a procedural backdrop step (scenes are drawn by tasks/imaging/scenes)."""
    return PAINTERS[step.kind](step, size)  # type: ignore[attr-defined]
