"""Where an image has text: PP-OCRv4's text detector (DB), run with onnxruntime directly.

The ONNX file is RapidOCR's (`pp-ocr-det` in the model registry, pulled like any model); the
RapidOCR package itself is not used, since it pins its own onnxruntime and OpenCV builds. Pre-
and post-processing follow RapidOCR's: BGR, (x/255 - 0.5) / 0.5, sides rounded to multiples
of 32; the probability map is thresholded, each connected region becomes its minimum-area
rectangle, scored by its mean probability and grown by DB's unclip distance (area * ratio /
perimeter; a rectangle's offset needs no polygon clipper). RapidOCR's recogniser, which would
drop regions that read as nothing, is not run; an elongation test stands in for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np
import onnxruntime as ort

MAX_SIDE = 736  # RapidOCR's own detection size; text that matters on a packshot survives it
THRESH, BOX_THRESH, UNCLIP_RATIO, MIN_SIDE = 0.3, 0.5, 1.6, 3
# Without the recogniser, texture (fur, foliage) can pass as text; a line of text is long and
# thin, texture blobs are not, so regions less elongated than this are dropped.
MIN_ELONGATION = 1.8


@dataclass(frozen=True)
class TextBox:
    """An axis-aligned box around detected text, in the image's pixels."""

    x0: int
    y0: int
    x1: int
    y1: int
    score: float

    @property
    def area(self) -> int:
        return max(0, self.x1 - self.x0) * max(0, self.y1 - self.y0)


@cache
def _session(path: str) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])


def _input(rgb: np.ndarray) -> tuple[np.ndarray, float, float]:
    h, w = rgb.shape[:2]
    ratio = min(1.0, MAX_SIDE / max(h, w))
    rh, rw = max(32, round(h * ratio / 32) * 32), max(32, round(w * ratio / 32) * 32)
    small = cv2.resize(rgb[..., ::-1], (rw, rh), interpolation=cv2.INTER_AREA)
    tensor = (small.astype(np.float32) / 255.0 - 0.5) / 0.5
    return tensor.transpose(2, 0, 1)[None], w / rw, h / rh


def detect(rgb: np.ndarray, model_path: str) -> list[TextBox]:
    """Text boxes in an RGB uint8 image."""
    tensor, sx, sy = _input(rgb)
    session = _session(model_path)
    (prob,) = session.run(None, {session.get_inputs()[0].name: tensor})
    return boxes_from_map(prob[0, 0], sx, sy, rgb.shape[1], rgb.shape[0])


def boxes_from_map(
    prob: np.ndarray, sx: float, sy: float, width: int, height: int
) -> list[TextBox]:
    """DB post-processing of a probability map into boxes in the original image's pixels."""
    bitmap = cv2.dilate((prob > THRESH).astype(np.uint8), np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(bitmap, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    boxes = []
    for contour in contours[:1000]:
        (cx, cy), (rw, rh), angle = cv2.minAreaRect(contour)
        if min(rw, rh) < MIN_SIDE or max(rw, rh) < MIN_ELONGATION * min(rw, rh):
            continue
        region = np.zeros_like(bitmap)
        cv2.drawContours(region, [contour], -1, 1, thickness=-1)
        score = float(prob[region > 0].mean())
        if score < BOX_THRESH:
            continue
        grow = rw * rh * UNCLIP_RATIO / (2 * (rw + rh))
        corners = cv2.boxPoints(((cx, cy), (rw + 2 * grow, rh + 2 * grow), angle))
        x0, y0 = corners.min(axis=0)
        x1, y1 = corners.max(axis=0)
        boxes.append(
            TextBox(
                x0=int(np.clip(x0 * sx, 0, width)),
                y0=int(np.clip(y0 * sy, 0, height)),
                x1=int(np.clip(x1 * sx, 0, width)),
                y1=int(np.clip(y1 * sy, 0, height)),
                score=round(score, 3),
            )
        )
    return boxes
