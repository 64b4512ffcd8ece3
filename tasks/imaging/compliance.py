"""Compliance evidence: what the written output measures against its preset's rules.

Every check the preset configures (schemas/presets.py `PresetCompliance`) is measured on the
encoded file as it was written, and recorded whether it passes or not, as
{code, value, limit, severity, rule}; severity is `pass`, `warn`, `review` (missed, and the
preset sends that to a person) or `reject`.

Text printed on the product versus an overlay: the detector finds both, so each text box is
placed against the product in the output. A box with under 10% of its area on the product
sits on the background, and one with 10-90% spans product and background: both are overlays
(a banner, a price, a watermark's corner), since print cannot leave the product. A box at
least 90% on the product is print, unless it spans over half the product's width, which a
label rarely does and a watermark across the product does: that one cannot be told apart and
is `text_uncertain`, which presets send to review.

An output on a plain background (a colour or transparency) holds the cutout's text and no
other, so the batch finds text once per photo, on the cutout (`cutout_text`), and every such
output shares the counts; an output on a backdrop or scene is searched itself.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import cv2
import numpy as np
from PIL import Image

from schemas.presets import ComplianceCheck, Preset, PresetCompliance
from tasks.imaging.text import TextBox

RING_SHARE = 0.01  # the outer ring: 1% of the longer side, at least RING_MIN px
RING_MIN, RING_TOLERANCE = 2, 2  # levels an encoder may move a flat background by
PRODUCT_LEVELS = 24  # a pixel this far from the background is product (or its shadow)
OVERLAY_BELOW, PRINT_ABOVE, WATERMARK_WIDTH = 0.10, 0.90, 0.5
FRAME_STEP = 0.95  # share of a side a frame's inner edge runs along
PIECE_SHARE = 0.05  # a separate product is at least this share of the largest one
CHECK_SIDE = 1024  # fill and text are shape facts: a reduced copy of the output sees them


def decode_output(data: bytes) -> np.ndarray:
    """The written file as RGBA uint8."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGBA"))


def product_in_output(rgba: np.ndarray, background: Sequence[int] | None) -> np.ndarray:
    """Where the product is in the output: its alpha when transparent, else pixels clearly off
    the background colour (a dark drawn shadow counts as product here)."""
    if background is None:
        return rgba[..., 3] >= 128
    rgb = np.ascontiguousarray(rgba[..., :3])
    # OpenCV throughout: against a scalar, and its channel max (numpy's max(axis=-1) is 6x)
    red, green, blue = cv2.split(cv2.absdiff(rgb, (*background, 0)))
    return cv2.max(cv2.max(red, green), blue) > PRODUCT_LEVELS


def reduced(rgba: np.ndarray, side: int = CHECK_SIDE) -> np.ndarray:
    """A copy at most `side` px long for the shape checks (fill, text); the ring is checked
    on the full file."""
    h, w = rgba.shape[:2]
    scale = side / max(h, w)
    if scale >= 1.0:
        return rgba
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    # Linear, not area: these checks see shapes, and area averaging costs 8x as much.
    return cv2.resize(rgba, size, interpolation=cv2.INTER_LINEAR)


def ring_off_share(rgba: np.ndarray, background: Sequence[int] | None) -> float:
    """Share of the outer ring's pixels that are not the background (transparent: alpha 0)."""
    h, w = rgba.shape[:2]
    width = min(max(RING_MIN, round(RING_SHARE * max(h, w))), h // 2, w // 2)
    strips = [rgba[:width], rgba[h - width :], rgba[width : h - width, :width]]
    strips.append(rgba[width : h - width, w - width :])
    ring = np.concatenate([strip.reshape(-1, 4) for strip in strips])
    if background is None:
        return float(np.mean(ring[:, 3] > 0))
    diff = np.abs(ring[:, :3].astype(np.int16) - np.asarray(background, np.int16))
    return float(np.mean(diff.max(axis=-1) > RING_TOLERANCE))


def fill(product: np.ndarray) -> float:
    """Product's longer side over the frame's longer side (0 without a product)."""
    ys, xs = np.nonzero(product)
    if ys.size == 0:
        return 0.0
    return max(ys.max() - ys.min() + 1, xs.max() - xs.min() + 1) / max(product.shape)


def classify_text(boxes: list[TextBox], product: np.ndarray) -> dict[str, int]:
    """Counts of overlay, uncertain and printed text boxes (see the module docstring)."""
    counts = {"overlay": 0, "uncertain": 0, "printed": 0}
    xs = np.nonzero(product.any(axis=0))[0]
    product_width = (xs.max() - xs.min() + 1) if xs.size else 1
    for box in boxes:
        patch = product[box.y0 : box.y1, box.x0 : box.x1]
        on_product = float(patch.mean()) if patch.size else 0.0
        if on_product < PRINT_ABOVE:
            counts["overlay"] += 1
        elif (box.x1 - box.x0) > WATERMARK_WIDTH * product_width:
            counts["uncertain"] += 1
        else:
            counts["printed"] += 1
    return counts


def cutout_text(
    source: np.ndarray, mask: np.ndarray, text_boxes: Callable[[np.ndarray], list[TextBox]]
) -> dict[str, int]:
    """`classify_text` counts of the cutout: the product over white, cropped to the product so
    it fills the detector's frame as it fills an output. `source` RGB, `mask` uint8 alpha."""
    product = mask >= 128
    ys, xs = np.nonzero(product)
    if ys.size == 0:
        return {"overlay": 0, "uncertain": 0, "printed": 0}
    pad = round(0.05 * max(np.ptp(ys), np.ptp(xs)))
    y0, x0 = max(0, ys.min() - pad), max(0, xs.min() - pad)
    y1, x1 = min(mask.shape[0], ys.max() + 1 + pad), min(mask.shape[1], xs.max() + 1 + pad)
    alpha = mask[y0:y1, x0:x1, None].astype(np.float32) / 255.0
    over_white = source[y0:y1, x0:x1, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
    crop = np.ascontiguousarray(over_white.round().astype(np.uint8))
    return classify_text(text_boxes(crop), product[y0:y1, x0:x1])


def border_width(source: np.ndarray, max_share: float = 0.15) -> int:
    """Width in px of a uniform frame drawn around the source, 0 when there is none.

    A frame is flat on every side, about as wide on each, and ends in a straight line across
    the whole side; a plain studio background is flat too but meets the product in a shape,
    not in four straight steps the length of the frame.
    """
    grey = cv2.cvtColor(source[..., :3], cv2.COLOR_RGB2GRAY).astype(np.float32)
    limit = max(1, int(max_share * min(grey.shape)))
    sides = [grey, grey[::-1], grey.T, grey.T[::-1]]
    widths = [_flat_run(side, limit) for side in sides]
    if min(widths) == 0 or max(widths) > 1.5 * min(widths) + 2:
        return 0
    return min(widths)


def _flat_run(side: np.ndarray, limit: int) -> int:
    """Rows from this edge that are flat, in the edge's colour, and end in a sharp step."""
    edge = np.median(side[0])
    for row in range(limit):
        line = side[row]
        if np.abs(line - edge).max() > 6 or line.std() > 2.0:
            step = np.abs(line[row : len(line) - row] - edge) > 20  # corners: other sides
            return row if row > 0 and step.mean() > FRAME_STEP else 0
    return 0


def separate_products(mask: np.ndarray) -> int:
    """Pieces of the mask that are each at least PIECE_SHARE of the largest one."""
    binary = (mask >= 128) if mask.dtype == np.uint8 else (mask >= 0.5)
    closed = cv2.morphologyEx(binary.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    return int(np.count_nonzero(areas >= PIECE_SHARE * areas.max())) if len(areas) else 0


def _finding(
    code: str, value: float, check: ComplianceCheck, missed: Callable[[float, float], bool]
) -> dict[str, object]:
    severity = "pass"
    if missed(value, check.limit):
        severity = "review" if check.review and check.severity == "warn" else check.severity
    return {
        "code": code,
        "value": round(float(value), 4),
        "limit": check.limit,
        "severity": severity,
        "rule": check.rule,
    }


def _over(value: float, limit: float) -> bool:
    return value > limit


def _under(value: float, limit: float) -> bool:
    return value < limit


def evaluate(
    data: bytes,
    preset: Preset,
    *,
    source: np.ndarray,
    mask: np.ndarray,
    text_boxes: Callable[[np.ndarray], list[TextBox]] | None = None,
    text: dict[str, int] | None = None,
) -> list[dict[str, object]]:
    """Every configured check of `preset` on the written `data`; `source` is the original RGB,
    `mask` its alpha (uint8), `text_boxes` a text detector (None: text is not checked) and
    `text` the cutout's counts (`cutout_text`), used instead of searching the output."""
    rules: PresetCompliance = preset.compliance
    rgba = decode_output(data)
    findings = []
    if rules.background_ring:
        share = ring_off_share(rgba, preset.background)
        findings.append(_finding("background_not_uniform", share, rules.background_ring, _over))
    rgba = reduced(rgba)
    product = product_in_output(rgba, preset.background)
    if rules.min_product_fill:
        findings.append(_finding("fill_low", fill(product), rules.min_product_fill, _under))
    if rules.checks_text and text is None and text_boxes:
        text = classify_text(text_boxes(np.ascontiguousarray(rgba[..., :3])), product)
    if rules.checks_text and text is not None:
        counts = text
        if rules.text_overlay:
            findings.append(_finding("text_overlay", counts["overlay"], rules.text_overlay, _over))
        if rules.text_uncertain:
            uncertain = rules.text_uncertain
            findings.append(_finding("text_uncertain", counts["uncertain"], uncertain, _over))
    if rules.added_border:
        findings.append(_finding("added_border", border_width(source), rules.added_border, _over))
    if rules.several_products:
        pieces = separate_products(mask)
        findings.append(_finding("several_products", pieces, rules.several_products, _over))
    return findings


def route(confidence: float | None, findings: list[dict[str, object]], preset: Preset) -> str:
    """`reject`, `review` or `ready` for an output with these findings and this confidence."""
    severities = {f["severity"] for f in findings}
    if "reject" in severities:
        return "reject"
    low = confidence is not None and confidence < preset.compliance.review_below_confidence
    return "review" if low or "review" in severities else "ready"
