"""Make the tabletop scene shipped with packshot (pure code, no photo: MIT like the repo).

Run: python scenes/make.py  (writes scenes/tabletop.jpg; tabletop.json is written by hand).
A warm wall lit through a window from the upper left, a wooden table top below it.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

SIDE = 2000
TABLE = 0.64  # where the table top meets the wall, share of the height


def _wall(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    base = np.array([226, 216, 201], np.float32)
    glow = np.exp(-(((x - 0.22) / 0.55) ** 2 + ((y - 0.18) / 0.5) ** 2))
    window = ((x + 0.45 * y > 0.18) & (x + 0.45 * y < 0.52) & (y < TABLE)).astype(np.float32)
    window = cv2.GaussianBlur(window, (0, 0), 40)
    light = 0.82 + 0.16 * glow + 0.07 * window
    return base * light[..., None]


def _table(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    depth = np.clip((y - TABLE) / (1 - TABLE), 0, 1)
    noise = cv2.GaussianBlur(rng.standard_normal(x.shape).astype(np.float32), (0, 0), 18)
    rows = cv2.GaussianBlur(rng.standard_normal((x.shape[0], 1)).astype(np.float32), (0, 0), 3)
    grain = np.sin(y * 900 / (0.4 + depth) + 40 * noise + 3 * rows) * 0.5 + 0.5
    wood = np.array([158, 112, 76], np.float32) * (0.86 + 0.1 * grain[..., None])
    light = 1.05 - 0.25 * depth - 0.15 * np.clip(x - 0.5, 0, 1)
    return wood * light[..., None]


def make(path: Path) -> None:
    rng = np.random.default_rng(14)
    y, x = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32) / SIDE
    image = np.where((y < TABLE)[..., None], _wall(x, y), _table(x, y, rng))
    seam = np.exp(-(((y - TABLE) / 0.012) ** 2)) * (y > TABLE - 0.01)
    image *= (1 - 0.35 * seam)[..., None]
    image += rng.normal(0, 1.2, image.shape).astype(np.float32)  # film grain, against banding
    rgb = np.clip(image + 0.5, 0, 255).astype(np.uint8)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])


if __name__ == "__main__":
    make(Path(__file__).with_name("tabletop.jpg"))
