"""How close a predicted alpha matte is to the true one: IoU, mean alpha error, boundary F.

Pure numpy/OpenCV. Mattes are arrays in 0..1 (floats) or 0..255 (uint8), same shape. The
benchmark (benchmarks/accuracy.py) scores every model on composites with exact alpha, and the
confidence (tasks/imaging/confidence.py) is calibrated against these numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

# The foreground side of a matte: the threshold packshot's own masks use for "product".
FOREGROUND = 0.5
# Boundary F-measure tolerance: a predicted edge pixel counts when a true edge lies this close.
BOUNDARY_BAND = 2


def as_unit(alpha: np.ndarray) -> np.ndarray:
    """The matte as float32 in 0..1."""
    if alpha.dtype == np.uint8:
        return alpha.astype(np.float32) / 255.0
    return np.clip(alpha.astype(np.float32), 0.0, 1.0)


@dataclass(frozen=True)
class MatteScore:
    """One prediction against its truth."""

    iou: float
    alpha_mae: float
    boundary_f: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def iou(pred: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union of the foreground sides; 1 when both are empty."""
    p, t = as_unit(pred) >= FOREGROUND, as_unit(truth) >= FOREGROUND
    union = np.count_nonzero(p | t)
    return 1.0 if union == 0 else np.count_nonzero(p & t) / union


def alpha_mae(pred: np.ndarray, truth: np.ndarray) -> float:
    """Mean absolute alpha difference over the whole frame, 0..1."""
    return float(np.mean(np.abs(as_unit(pred) - as_unit(truth))))


def _edges(binary: np.ndarray) -> np.ndarray:
    """One-pixel inner boundary of a binary mask."""
    eroded = cv2.erode(binary.astype(np.uint8), np.ones((3, 3), np.uint8), borderValue=0)
    return binary & (eroded == 0)


def boundary_f(pred: np.ndarray, truth: np.ndarray, band: int = BOUNDARY_BAND) -> float:
    """F-measure of boundary pixels matched within `band` px (Perazzi et al.'s F for
    segmentation); 1 when neither has a boundary, 0 when only one has."""
    p_edge = _edges(as_unit(pred) >= FOREGROUND)
    t_edge = _edges(as_unit(truth) >= FOREGROUND)
    p_count, t_count = np.count_nonzero(p_edge), np.count_nonzero(t_edge)
    if p_count == 0 and t_count == 0:
        return 1.0
    if p_count == 0 or t_count == 0:
        return 0.0
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    t_near = cv2.dilate(t_edge.astype(np.uint8), disk) > 0
    p_near = cv2.dilate(p_edge.astype(np.uint8), disk) > 0
    precision = np.count_nonzero(p_edge & t_near) / p_count
    recall = np.count_nonzero(t_edge & p_near) / t_count
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))


def score(pred: np.ndarray, truth: np.ndarray) -> MatteScore:
    """All three numbers for one prediction."""
    return MatteScore(
        iou=float(iou(pred, truth)),
        alpha_mae=alpha_mae(pred, truth),
        boundary_f=boundary_f(pred, truth),
    )


def summarise(scores: list[MatteScore]) -> dict[str, float]:
    """Means over a set of predictions, plus the share under IoU 0.90 (a bad cutout)."""
    if not scores:
        return {"n": 0}
    ious = np.array([s.iou for s in scores])
    return {
        "n": len(scores),
        "iou": float(ious.mean()),
        "alpha_mae": float(np.mean([s.alpha_mae for s in scores])),
        "boundary_f": float(np.mean([s.boundary_f for s in scores])),
        "share_iou_below_0_90": float(np.mean(ious < 0.90)),
    }
