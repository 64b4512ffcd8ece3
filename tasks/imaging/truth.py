"""Product truth: how far an output's product pixels moved from the original's.

The original's crop is resized exactly as the product was, and the two are compared on the
product's opaque core: output pixels whose every source pixel, within the resampling kernel's
reach, was fully opaque in the mask. There the soft edge's clean-up (matting) changes
nothing, so any difference comes from a step allowed to change the product (enhancement,
harmonisation) or from a fault (a shadow painted over it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from tasks.imaging.matting import OPAQUE


@dataclass(frozen=True)
class Truth:
    """Mean and 99th percentile of the absolute change (0..255) of product pixel values."""

    mean: float
    p99: float


def opaque_core(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Where, in an output of `size` resized from `mask` (HxW uint8), every source pixel the
    bicubic kernel reaches was opaque (mask >= OPAQUE, as matting keeps it) (HxW bool)."""
    solid = np.where(mask >= OPAQUE, 255, 0).astype(np.uint8)
    shrink = size[0] < mask.shape[1]
    inter = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    core = (cv2.resize(solid, size, interpolation=inter) == 255).astype(np.uint8)
    scale = size[0] / mask.shape[1]
    rim = 1 + math.ceil(2 * max(scale, 1.0))  # the bicubic kernel's reach, in output pixels
    return cv2.erode(core, np.ones((2 * rim + 1, 2 * rim + 1), np.uint8)) > 0


def product_truth(reference: np.ndarray, output: np.ndarray, core: np.ndarray) -> Truth | None:
    """Compare `output` (HxWx3, the product's place in the output) with `reference` (the
    original resized the same way) on `core` (see opaque_core); None when it is empty."""
    if not core.any():
        return None
    diff = cv2.absdiff(np.ascontiguousarray(reference), np.ascontiguousarray(output))
    where = core.astype(np.uint8)
    counts = sum(
        cv2.calcHist([diff], [channel], where, [256], [0, 256]).ravel() for channel in range(3)
    )  # a histogram of the changes: mean and percentile without copying the pixels out
    total = float(counts.sum())
    mean = float((counts * np.arange(256)).sum()) / total
    p99 = int(np.searchsorted(np.cumsum(counts), 0.99 * total))
    return Truth(round(mean, 4), float(p99))
