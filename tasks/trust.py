"""What the batch asks after the model ran: how sure is the cutout, does each written output
meet its preset, and does it ship, wait for review or get rejected.

Called from tasks/batch.py (`assess_cutout` once per original, `judge_written` once per
output); pure apart from locating the text detector's file in the model home.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from schemas.catalog import Outcome, WarningCode
from schemas.presets import Preset
from tasks.imaging.compliance import cutout_text, evaluate, route
from tasks.imaging.confidence import assess_pil

REVIEW_PREFIX = "_review"  # outputs waiting for a person: DEST/_review/<preset>/<key>
CHECK_SIDE = 1024  # the source-side checks (border, pieces) see a frame at this size


def review_key(output_key: str) -> str:
    """Where an output waits for review: `_review/<preset>/<name>`."""
    return f"{REVIEW_PREFIX}/{output_key}"


def published_key(review: str) -> str:
    """The preset folder's key for an output under `_review/`."""
    return review.removeprefix(f"{REVIEW_PREFIX}/")


def assess_cutout(image: Image.Image, mask: Image.Image) -> dict[str, object]:
    """Catalog columns `confidence` and `confidence_signals` for one original's cutout."""
    confidence, signals = assess_pil(image, mask)
    return {
        "confidence": round(confidence, 4),
        "confidence_signals": json.dumps({k: round(v, 5) for k, v in signals.items()}),
    }


@dataclass(frozen=True)
class Verdict:
    """What becomes of one written output: `ready`, `review` or `reject`, and the evidence."""

    route: str
    findings: list[dict[str, object]]

    def facts(self) -> dict[str, object]:
        return {"compliance": json.dumps(self.findings)}

    def warnings(self) -> list[str]:
        return [str(f["code"]) for f in self.findings if f["severity"] in ("warn", "review")]

    def rejection(self) -> tuple[str, str] | None:
        """(reason code, detail) of the first rejecting finding."""
        for f in self.findings:
            if f["severity"] == "reject":
                return str(
                    f["code"]
                ), f"{f['code']} = {f['value']} (limit {f['limit']}): {f['rule']}"
        return None


def _reduced(image: Image.Image, mask: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    scale = min(1.0, CHECK_SIDE / max(image.size))
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    rgb = image.convert("RGB").resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(rgb), np.asarray(mask.resize(size, Image.Resampling.BILINEAR))


@cache
def _detector(model_home: str):
    """The text detector over the pulled PP-OCR file, or None when it cannot be had."""
    from tasks import model_store
    from tasks.imaging.text import detect

    try:
        path = model_store.pull("pp-ocr-det", Path(model_home))
    except model_store.ModelError:
        return None
    return lambda rgb: detect(rgb, str(path))


def judge_written(
    data: bytes,
    preset: Preset,
    *,
    image: Image.Image,
    mask: Image.Image,
    confidence: float | None,
    model_home: str,
    reduced: dict[str, object] | None = None,
) -> Verdict:
    """The verdict on one written output. `reduced` caches the source's reduced copies across
    the presets of one image (pass the same dict for each)."""
    cache_ = reduced if reduced is not None else {}
    if "source" not in cache_:
        cache_["source"], cache_["mask"] = _reduced(image, mask)
    detector = _detector(model_home)
    text = None
    # On a plain background an output holds the cutout's text only: found once per photo.
    if detector and preset.compliance.checks_text and preset.backdrop is None:
        if "text" not in cache_:
            source, alpha = cache_["source"], cache_["mask"]
            cache_["text"] = cutout_text(source, alpha, detector)  # type: ignore[arg-type]
        text = cache_["text"]
    findings = evaluate(
        data,
        preset,
        source=cache_["source"],  # type: ignore[arg-type]
        mask=cache_["mask"],  # type: ignore[arg-type]
        text_boxes=detector,
        text=text,  # type: ignore[arg-type]
    )
    if detector is None and preset.compliance.checks_text:
        findings.append(_unchecked_text())
    verdict = route(confidence, findings, preset)
    if verdict == "review" and confidence is not None:
        if confidence < preset.compliance.review_below_confidence:
            findings.append(_low_confidence(confidence, preset))
    return Verdict(verdict, findings)


def _unchecked_text() -> dict[str, object]:
    return {
        "code": "text_unchecked",
        "value": 1,
        "limit": 0,
        "severity": "warn",
        "rule": "packshot: the PP-OCR text detector could not be pulled into the model home",
    }


def _low_confidence(confidence: float, preset: Preset) -> dict[str, object]:
    return {
        "code": WarningCode.LOW_CONFIDENCE.value,
        "value": round(confidence, 4),
        "limit": preset.compliance.review_below_confidence,
        "severity": "review",
        "rule": "packshot: cutouts under the preset's confidence threshold are checked by a person",
    }


STATUS_OF_ROUTE = {"ready": Outcome.PROCESSED.value, "review": Outcome.NEEDS_REVIEW.value}
