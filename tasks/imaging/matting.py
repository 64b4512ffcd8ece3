"""Foreground colour where the mask is partly transparent (clean edges on any background).

A soft edge pixel of the photo is a blend `I = a*F + (1 - a)*B` of the product's colour F and
the old background B. Compositing I itself onto white keeps B's share: fur tips turn into dark
fringes. Forte and Pitié's blur-fusion estimate ("Approximate fast foreground colour
estimation", ICIP 2021) recovers F from box filters alone: a wide pass, then a narrow one.
Where the model's mask calls a tinted pixel almost opaque (fur tips over a dark plant), the
estimate keeps the tint; a last step takes out what leans clearly toward the local background.
Opaque pixels (mask >= OPAQUE) are returned exactly as they were.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

# Box radii of the two passes (px at the photo's resolution, as the paper sets them): the
# wide one reaches across the soft band to find both colours, the narrow one sharpens them.
WIDE_RADIUS = 90
NARROW_RADIUS = 6
# The wide pass blurs so much that a quarter-resolution copy gives the same answer, faster.
WIDE_SCALE = 4
# Decontamination acts only on estimates that lean more than this share of the way from the
# product's local colour to the background's: clearly tinted fringes (olive fur tips over a
# plant), not a product whose own colour merely varies in that direction (benchmarks/looks.py).
GATE = 0.5
_EPS = 1e-4
# Mask level from which a pixel is the product's own, kept exactly as photographed: at 98%
# cover the old background's share is below what the estimate could correct reliably.
OPAQUE = 250


def _box(pixels: np.ndarray, radius: int) -> np.ndarray:
    side = 2 * radius + 1
    return cv2.blur(pixels, (side, side), borderType=cv2.BORDER_REFLECT)


def _wide_means(image: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Locally alpha-weighted means of foreground and background, computed at 1/WIDE_SCALE."""
    height, width = alpha.shape
    small = (max(1, width // WIDE_SCALE), max(1, height // WIDE_SCALE))
    img = cv2.resize(image, small, interpolation=cv2.INTER_AREA)
    a = cv2.resize(alpha, small, interpolation=cv2.INTER_AREA)[..., None]
    radius = max(1, WIDE_RADIUS // WIDE_SCALE)
    blur_a = _box(a[..., 0], radius)[..., None]
    fore = _box(img * a, radius) / (blur_a + _EPS)
    back = _box(img * (1.0 - a), radius) / (1.0 - blur_a + _EPS)
    up = (width, height)
    fore = cv2.resize(fore, up, interpolation=cv2.INTER_LINEAR)
    back = cv2.resize(back, up, interpolation=cv2.INTER_LINEAR)
    return fore, back


def _fuse(
    image: np.ndarray, alpha: np.ndarray, fore: np.ndarray, back: np.ndarray, radius: int
) -> tuple[np.ndarray, np.ndarray]:
    """One blur-fusion pass: blurred estimates corrected by the compositing equation."""
    a = alpha[..., None]
    blur_a = _box(alpha, radius)[..., None]
    blur_f = _box(fore * a, radius) / (blur_a + _EPS)
    blur_b = _box(back * (1.0 - a), radius) / (1.0 - blur_a + _EPS)
    fore = blur_f + a * (image - a * blur_f - (1.0 - a) * blur_b)
    return np.clip(fore, 0.0, 1.0), blur_b


def _decontaminate(fore: np.ndarray, mean_f: np.ndarray, back: np.ndarray) -> np.ndarray:
    """Take out of each estimate the part that leans from the product's local colour toward
    the local background's: what the mask called product but the old background tinted."""
    toward = back - mean_f
    lean = (fore - mean_f) * toward
    t = np.clip(lean.sum(axis=2) / ((toward * toward).sum(axis=2) + _EPS), 0.0, 1.0)
    t = np.where(t > GATE, t, 0.0)
    return np.clip(fore - t[..., None] * toward, 0.0, 1.0)


def estimate_foreground(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The product's own colour (HxWx3 uint8) for `image` (HxWx3 uint8) under `alpha` (HxW
    uint8); pixels with alpha >= OPAQUE are the image's own, untouched."""
    img = image.astype(np.float32) / 255.0
    a = alpha.astype(np.float32) / 255.0
    mean_f, back = _wide_means(img, a)
    fore = np.clip(
        mean_f + a[..., None] * (img - a[..., None] * mean_f - (1 - a[..., None]) * back), 0, 1
    )
    fore, near_b = _fuse(img, a, fore, back, NARROW_RADIUS)
    fore = _decontaminate(fore, mean_f, near_b)
    out = (fore * 255.0 + 0.5).astype(np.uint8)
    opaque = alpha >= OPAQUE
    out[opaque] = image[opaque]
    return out


def refine_cutout(image: Image.Image, mask: Image.Image) -> Image.Image:
    """The RGBA cutout of `image` under `mask` with soft edges in the product's own colour."""
    rgb = np.asarray(image.convert("RGB"))
    alpha = np.asarray(mask)
    if image.mode == "RGBA":
        alpha = np.minimum(alpha, np.asarray(image.getchannel("A")))
    fore = estimate_foreground(rgb, alpha)
    return Image.fromarray(np.dstack([fore, alpha]), "RGBA")
