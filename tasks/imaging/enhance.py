"""Opt-in enhancement of the product's own pixels, measured on the product only.

White balance: the brighter half of the product's most neutral pixels (low saturation,
neither clipped nor black) is taken to be grey (lit greys, not shaded skin or wood), and the
channel gains that make it grey are found in a few rounds, each round choosing the neutral
pixels again after the last correction (a product with no neutral area is left alone).
Levels: a gentle exposure gain when the product's highlights sit low, and a contrast stretch
when its tones span little; a well-exposed product gets neither.
Denoise blends toward a 3x3 median; sharpening is an unsharp mask. Every amount is returned
so the catalog can record it.

How a colour cast is measured (`cast`): the mean colour of an area that should be grey, each
channel divided by the mean of the three; the cast is the largest deviation from 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from schemas.looks import Enhance

# Saturation ((max - min) / max) below which a product pixel counts as neutral: loose enough
# to catch grey under a 15% cast. Each round chooses again after the last correction; few
# rounds, because on a product with little grey (skin, wood) every round pulls a little more
# of the warm colours into the set.
NEUTRAL_SATURATION = 0.15
ROUNDS = 3
# Fewer neutral pixels than this share of the product: no trustworthy grey, no white balance.
MIN_NEUTRAL_SHARE = 0.02
# Bounds on any channel's white-balance gain: a cast beyond these is a look, not a mistake.
MAX_GAIN = 1.35
# Levels: highlights are lifted to this level at most by `MAX_EXPOSURE`; tones spanning less
# than `TARGET_SPAN` levels are stretched around mid-grey by at most `MAX_CONTRAST`.
TARGET_HIGHLIGHT, MAX_EXPOSURE = 240.0, 1.2
TARGET_SPAN, MAX_CONTRAST = 230.0, 1.2
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
# Product pixels the measurements look at, at most: an even sample of the product measures
# its grey and its tones as well as every pixel does, in a fraction of the time.
SAMPLE = 20_000


@dataclass(frozen=True)
class Enhanced:
    """The enhanced pixels and the amount of each adjustment (no-op values when off)."""

    pixels: np.ndarray
    white_balance: float  # largest channel gain's distance from 1, per mille
    exposure: float
    contrast: float
    denoise: float
    sharpen: float


def cast(pixels: np.ndarray) -> float:
    """The colour cast of an area that should be neutral (0: grey)."""
    mean = pixels.reshape(-1, 3).astype(np.float64).mean(axis=0)
    return float(np.abs(mean / mean.mean() - 1.0).max())


def white_balance_gains(pixels: np.ndarray) -> np.ndarray:
    """Channel gains (3,) that make the product's neutral pixels (N x 3) grey."""
    px = pixels.astype(np.float32)
    usable = (px.max(axis=1) < 250) & (px @ _LUMA > 25)
    px = px[usable]
    gains = np.ones(3, np.float32)
    for _ in range(ROUNDS):
        seen = px * gains
        top = seen.max(axis=1)
        neutral = (top - seen.min(axis=1)) < NEUTRAL_SATURATION * top
        if neutral.sum() < max(50, MIN_NEUTRAL_SHARE * len(pixels)):
            break
        grey = seen[neutral]
        luma = grey @ _LUMA
        mean = grey[luma >= np.median(luma)].mean(axis=0)  # the brighter half: lit, not skin
        gains = np.clip(gains * (mean @ _LUMA) / mean, 1 / MAX_GAIN, MAX_GAIN)
    return gains / float(gains @ _LUMA)  # brightness kept


def levels(luma: np.ndarray) -> tuple[float, float]:
    """Exposure gain and contrast stretch for product luminances (N,)."""
    if luma.size == 0:
        return 1.0, 1.0
    low, high = np.percentile(luma, [0.5, 99.5])
    exposure = float(np.clip(TARGET_HIGHLIGHT / max(high, 1.0), 1.0, MAX_EXPOSURE))
    span = max((high - low) * exposure, 1.0)
    contrast = float(np.clip(TARGET_SPAN / span, 1.0, MAX_CONTRAST))
    return exposure, contrast


def _table(gains: np.ndarray, exposure: float, contrast: float) -> np.ndarray:
    levels_in = np.arange(256, dtype=np.float32)[:, None] * gains[None, :] * exposure
    out = (levels_in - 128.0) * contrast + 128.0
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)[None, :, :]


def enhance(rgb: np.ndarray, alpha: np.ndarray, step: Enhance) -> Enhanced:
    """`rgb` (HxWx3 uint8) enhanced as `step` asks, measured where `alpha` (HxW) is opaque."""
    stride = max(1, int((alpha.size / SAMPLE) ** 0.5))  # an even grid of the product
    product = rgb[::stride, ::stride][alpha[::stride, ::stride] >= 250]
    gains = white_balance_gains(product) if step.white_balance else np.ones(3, np.float32)
    exposure, contrast = levels((product * gains) @ _LUMA) if step.levels else (1.0, 1.0)
    out = rgb
    if step.white_balance or step.levels:
        out = cv2.LUT(np.ascontiguousarray(rgb), _table(gains, exposure, contrast))
    if step.denoise > 0:
        out = cv2.addWeighted(out, 1 - step.denoise, cv2.medianBlur(out, 3), step.denoise, 0)
    if step.sharpen > 0:
        soft = cv2.GaussianBlur(out, (0, 0), 1.0)
        out = cv2.addWeighted(out, 1 + step.sharpen, soft, -step.sharpen, 0)
    return Enhanced(
        pixels=out,
        white_balance=round(float(np.abs(gains - 1).max()) * 1000, 2),
        exposure=round(exposure, 4),
        contrast=round(contrast, 4),
        denoise=step.denoise,
        sharpen=step.sharpen,
    )
