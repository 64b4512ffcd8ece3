"""How sure packshot is of a cutout, from what the mask and the photo say (no ground truth).

`signals` measures what goes wrong in practice (rembg's most reported failures): alpha that
is neither product nor background, soft or ragged edges, a product in several pieces, the
background kept inside a ring or handle (or a hole punched into the product), the background's
colour clinging to the edge, a product running off the frame, and a product share far from
what product photos have. `confidence` combines them with a logistic model whose weights are
data (schemas/confidence.json), fitted on the accuracy benchmark by benchmarks/calibrate.py.
Pure numpy/OpenCV, computed on a copy at most WORK_SIDE px long, a few milliseconds per image.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from schemas.confidence import ConfidenceModel, load_confidence_model

WORK_SIDE = 512  # signals are shape facts; a small copy sees them as well as the full one
FOREGROUND, SURE_OUT, SURE_IN = 0.5, 0.05, 0.95
MIN_PIECE = 0.002  # pieces smaller than this share of the product are dust, not pieces


def _work_copies(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RGB float32 and alpha float32 0..1, both at most WORK_SIDE px on the longer side."""
    h, w = mask.shape[:2]
    scale = min(1.0, WORK_SIDE / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    alpha = mask.astype(np.float32) / (255.0 if mask.dtype == np.uint8 else 1.0)
    if scale < 1.0:
        alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return image[..., :3].astype(np.float32), np.clip(alpha, 0.0, 1.0)


def _ring(binary: np.ndarray, width: int, inside: bool) -> np.ndarray:
    """The band `width` px wide just inside (or just outside) a binary mask's edge."""
    kernel = np.ones((2 * width + 1, 2 * width + 1), np.uint8)
    if inside:
        return binary & (cv2.erode(binary.astype(np.uint8), kernel) == 0)
    return (cv2.dilate(binary.astype(np.uint8), kernel) > 0) & ~binary


def _colour_model(pixels: np.ndarray) -> tuple[np.ndarray, float]:
    """Median colour of a set of pixels and how far they typically spread from it."""
    if len(pixels) == 0:
        return np.zeros(3, np.float32), 0.0
    median = np.median(pixels, axis=0)
    spread = float(np.median(np.linalg.norm(pixels - median, axis=1)))
    return median, spread


def _near(pixels: np.ndarray, colour: np.ndarray, spread: float) -> np.ndarray:
    """Which pixels could be that colour: within twice its spread, and never under 14 levels."""
    return np.linalg.norm(pixels - colour, axis=1) < max(14.0, 2.0 * spread)


def _pieces(binary: np.ndarray) -> tuple[int, float]:
    """Number of separate pieces (dust ignored) and the largest one's share of the product."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), 8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    if len(areas) == 0:
        return 0, 0.0
    total = float(areas.sum())
    return int(np.count_nonzero(areas >= MIN_PIECE * total)), float(areas.max() / total)


def _enclosed_holes(binary: np.ndarray) -> np.ndarray:
    """Background pixels that do not reach the frame: holes enclosed by the product."""
    count, labels = cv2.connectedComponents((~binary).astype(np.uint8), connectivity=4)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    return (labels > 0) & ~np.isin(labels, border)


def signals(image: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """The cutout's signals: `image` RGB uint8 (H x W x 3), `mask` alpha (H x W) of it."""
    rgb, alpha = _work_copies(image, mask)
    binary = alpha >= FOREGROUND
    area = int(np.count_nonzero(binary))
    if area == 0:
        return {"foreground_share": 0.0}
    pixels = rgb.reshape(-1, 3)
    background, spread = _colour_model(pixels[(alpha < SURE_OUT).ravel()])
    edge_in = _ring(binary, 2, inside=True)
    core = binary & ~_ring(binary, 4, inside=True)
    product, product_spread = _colour_model(rgb[core] if core.any() else rgb[binary])
    holes = _enclosed_holes(binary)
    bg_like_core = _near(rgb[core], background, spread).mean() if core.any() else 0.0
    pieces, largest = _pieces(binary)
    uncertain = np.count_nonzero((alpha > SURE_OUT) & (alpha < SURE_IN))
    perimeter = max(1, int(np.count_nonzero(_ring(binary, 1, inside=True))))
    frame = np.concatenate([binary[0], binary[-1], binary[:, 0], binary[:, -1]])
    fringe = 0.0
    if edge_in.any():
        edge = rgb[edge_in]
        to_bg = np.linalg.norm(edge - background, axis=1)
        to_product = np.linalg.norm(edge - product, axis=1)
        fringe = float(np.mean(to_bg + 1.0 < to_product))
    hole_pixels = rgb[holes]
    return {
        "foreground_share": area / binary.size,
        "uncertain_share": uncertain / area,
        "edge_width": uncertain / perimeter,
        "pieces": float(pieces),
        "largest_piece_share": largest,
        "background_inside": float(bg_like_core),
        "holes_share": float(np.count_nonzero(holes) / area),
        "product_coloured_holes": float(
            (~_near(hole_pixels, background, spread)).mean() if len(hole_pixels) else 0.0
        ),
        "edge_fringe": fringe,
        "frame_contact": float(frame.mean()),
        "background_spread": spread,
        "product_contrast": float(np.linalg.norm(product - background) / (1.0 + product_spread)),
    }


def features(values: dict[str, float], model: ConfidenceModel) -> np.ndarray:
    """The logistic model's inputs, in its own order, from the signals."""
    share = max(values.get("foreground_share", 0.0), 1e-4)
    derived = {
        **values,
        "share_deviation": abs(math.log(share / model.typical_foreground_share)),
        "log_pieces": math.log1p(max(values.get("pieces", 0.0) - 1.0, 0.0)),
        "log_background_spread": math.log1p(values.get("background_spread", 0.0)),
        "log_product_contrast": math.log1p(values.get("product_contrast", 0.0)),
    }
    return np.array([derived.get(name, 0.0) for name in model.features], dtype=np.float64)


def combine(values: dict[str, float], model: ConfidenceModel | None = None) -> float:
    """Probability (0..1) that the cutout is good (IoU >= the model's bar); 0 for no product."""
    model = model or load_confidence_model()
    if values.get("foreground_share", 0.0) == 0.0:
        return 0.0
    x = (features(values, model) - np.asarray(model.mean)) / np.asarray(model.scale)
    logit = model.intercept + float(np.dot(model.weights, x))
    return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, logit))))


def assess(image: np.ndarray, mask: np.ndarray) -> tuple[float, dict[str, float]]:
    """The confidence and the signals it came from."""
    values = signals(image, mask)
    return combine(values), values


def assess_pil(image, mask) -> tuple[float, dict[str, float]]:
    """`assess` for a Pillow image and its mode-L mask, reduced by Pillow first (cheaper than
    converting a full-size photo to arrays)."""
    from PIL import Image

    scale = min(1.0, WORK_SIDE / max(image.size))
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    small = image.convert("RGB").resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    small_mask = mask.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return assess(np.asarray(small), np.asarray(small_mask))
