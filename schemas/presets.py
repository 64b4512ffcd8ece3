"""Marketplace presets: data files in schemas/presets/, validated by the `Preset` model.

A preset says how a cutout becomes a deliverable (layout, canvas, fill, format); the code that
composes images has no per-marketplace branches.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator

PRESET_DIR = Path(__file__).with_name("presets")


class OutputFormat(BaseModel):
    """How the composed image is encoded."""

    format: Literal["JPEG", "PNG", "WEBP"]
    extension: str
    quality: int | None = Field(None, ge=1, le=100)
    content_type: str


class Preset(BaseModel):
    """How one marketplace (or use) wants the product image."""

    name: str
    description: str
    layout: Literal["square", "trim"] = Field(
        description="square: product centred on a size x size canvas; trim: cutout cropped "
        "to the product plus a margin."
    )
    size: int | None = Field(None, ge=64, le=10_000, description="Canvas side (square layout).")
    background: tuple[int, int, int] | None = Field(
        None, description="RGB background; null keeps transparency."
    )
    fill: float | None = Field(
        None,
        gt=0.0,
        le=1.0,
        description="Share of the canvas side the product's longer side takes.",
    )
    margin: float = Field(0.0, ge=0.0, lt=0.5, description="Margin around the trimmed product.")
    min_source_side: int = Field(
        ge=1, description="Sources whose longer side is shorter are rejected as too_small."
    )
    output: OutputFormat

    @model_validator(mode="after")
    def _square_needs_canvas(self) -> Preset:
        if self.layout == "square" and (self.size is None or self.fill is None):
            raise ValueError("a square preset needs size and fill")
        if self.background is None and self.output.format == "JPEG":
            raise ValueError("JPEG has no transparency: give a background")
        return self


@cache
def load_presets() -> dict[str, Preset]:
    """Every preset in schemas/presets/, by name."""
    presets = {}
    for path in sorted(PRESET_DIR.glob("*.json")):
        preset = Preset.model_validate(json.loads(path.read_text()))
        presets[preset.name] = preset
    return presets


def get_preset(name: str) -> Preset:
    """The preset called `name`, or a KeyError that lists the known names."""
    presets = load_presets()
    try:
        return presets[name]
    except KeyError:
        raise KeyError(f"unknown preset {name!r}; known: {', '.join(presets)}") from None
