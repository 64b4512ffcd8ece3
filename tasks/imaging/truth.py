"""Product truth: how far an output's product pixels moved from the original's.

The original's crop is resized exactly as the product was, and the two are compared where the
output's product is opaque, less a thin rim: there the resampling kernel saw only product
pixels, so any difference comes from a step that changed the product (enhancement,
harmonisation) or a fault (a shadow painted over it), never from the soft edge's clean-up.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Rim (output px) left out inside the opaque product: the reach of the bicubic kernel.
RIM = 3


@dataclass(frozen=True)
class Truth:
    """Mean and 99th percentile of the absolute change (0..255) of product pixel values."""

    mean: float
    p99: float


def product_truth(reference: np.ndarray, output: np.ndarray, alpha: np.ndarray) -> Truth | None:
    """Compare `output` (HxWx3, the product's place in the output) with `reference` (the
    original resized the same way) where `alpha` (HxW) is opaque; None when nothing is."""
    solid = (alpha == 255).astype(np.uint8)
    core = cv2.erode(solid, np.ones((2 * RIM + 1, 2 * RIM + 1), np.uint8)) > 0
    if not core.any():
        core = solid > 0
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
