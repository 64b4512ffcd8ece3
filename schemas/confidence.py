"""The confidence model: a logistic regression over cutout signals, stored as data.

`schemas/confidence.json` is written by benchmarks/calibrate.py from the accuracy benchmark
(benchmarks/accuracy-results.json and its cached masks); tasks/imaging/confidence.py reads it.
Features are standardised (x - mean) / scale before the weights apply.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from pydantic import BaseModel, Field, model_validator

CONFIDENCE_FILE = Path(__file__).with_name("confidence.json")


class ConfidenceModel(BaseModel):
    """P(cutout good) = sigmoid(intercept + weights . (features - mean) / scale)."""

    features: list[str] = Field(description="Signal (or derived feature) names, in order.")
    mean: list[float]
    scale: list[float]
    weights: list[float]
    intercept: float
    good_iou: float = Field(0.90, description="IoU at or above which a cutout counts as good.")
    typical_foreground_share: float = Field(
        0.25, gt=0.0, lt=1.0, description="Product share of the frame a product photo has."
    )
    fitted_on: str = Field("", description="What the weights were fitted on, and when.")
    auroc: float | None = Field(None, description="AUROC for IoU < good_iou on that data.")

    @model_validator(mode="after")
    def _same_lengths(self) -> ConfidenceModel:
        if not len(self.features) == len(self.mean) == len(self.scale) == len(self.weights):
            raise ValueError("features, mean, scale and weights must have the same length")
        return self


@cache
def load_confidence_model() -> ConfidenceModel:
    return ConfidenceModel.model_validate(json.loads(CONFIDENCE_FILE.read_text()))
