"""Marketplace presets: data files in schemas/presets/, validated by the `Preset` model.

A preset says how a cutout becomes a deliverable and which published marketplace rules an
image must meet. The deliverable is a small declarative recipe: layout (canvas, fill, where the
product stands), backdrop (solid, gradient, studio sweep or a seller's scene), shadow, edge
refinement, opt-in enhancement, harmonisation to a scene, and the output format. The steps'
own shapes live in schemas/looks.py; tasks/imaging/recipe.py interprets them.

Each rule carries its number and the source of that number; a rule an image misses is a
reason code, either a rejection (`reject`) or a warning that is recorded but lets the image
through (`warn`). The code that composes and checks images has no per-marketplace branches.
"""

from __future__ import annotations

import json
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field, model_validator

from schemas.looks import Backdrop, Edges, Enhance, Harmonise, Shadow, SolidBackdrop

if TYPE_CHECKING:
    from schemas.creatives import Template

PRESET_DIR = Path(__file__).with_name("presets")


class OutputFormat(BaseModel):
    """How the composed image is encoded."""

    format: Literal["JPEG", "PNG", "WEBP"]
    extension: str
    quality: int | None = Field(None, ge=1, le=100)
    content_type: str


class Rule(BaseModel):
    """One published number, where it comes from, and what missing it means."""

    value: float
    severity: Literal["reject", "warn"]
    source: str = Field(description="Where the number is published (page, section, date read).")


class PresetRules(BaseModel):
    """The checks a preset applies to sources and outputs; absent rules are not checked."""

    min_source_side: Rule = Field(description="Longer side of the source, px (too_small).")
    recommended_source_side: Rule | None = Field(
        None, description="Longer side below which zoom or quality suffers, px."
    )
    max_aspect_ratio: Rule | None = Field(
        None, description="Longer side / shorter side of the source (extreme_aspect_ratio)."
    )
    max_output_bytes: Rule | None = Field(None, description="Encoded output size, bytes.")
    max_output_pixels: Rule | None = Field(None, description="Output width x height.")


# --- Issue 16 (trust): compliance evidence and the review queue, per preset. ---------------


class ComplianceCheck(BaseModel):
    """One measurement of the written output against a limit, and the rule behind it.

    `severity` reject: the output is not delivered (the original is quarantined with the
    code); warn: recorded in `compliance` and the output goes on; `review` true sends an output
    that misses the limit to DEST/_review/ for a person to decide, whatever the severity says.
    """

    limit: float
    severity: Literal["reject", "warn"] = "warn"
    review: bool = False
    rule: str = Field(description="Where the rule is published (page, section, date read).")


class PresetCompliance(BaseModel):
    """What is measured on every output of a preset; an absent check is not made."""

    review_below_confidence: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Outputs whose cutout confidence is under this wait for review (0: never); "
        "chosen on the accuracy benchmark (benchmarks/RESULTS.md).",
    )
    background_ring: ComplianceCheck | None = Field(
        None,
        description="Share of the outer ring's pixels more than 2 levels off the "
        "preset's background (background_not_uniform).",
    )
    min_product_fill: ComplianceCheck | None = Field(
        None, description="Product's longer side / frame's longer side, at least (fill_low)."
    )
    text_overlay: ComplianceCheck | None = Field(
        None,
        description="Text boxes outside the product or spanning product and background, "
        "at most (text_overlay).",
    )
    text_uncertain: ComplianceCheck | None = Field(
        None,
        description="Text boxes on the product as wide as a watermark, at most "
        "(text_uncertain: printed or overlaid cannot be told).",
    )
    added_border: ComplianceCheck | None = Field(
        None,
        description="Width in px of a uniform frame drawn around the source, at most "
        "(added_border).",
    )
    several_products: ComplianceCheck | None = Field(
        None,
        description="Separate products (pieces over 5% of the largest), at most "
        "(several_products).",
    )

    @property
    def checks_text(self) -> bool:
        """Whether any text check is configured (the detector runs only then)."""
        return self.text_overlay is not None or self.text_uncertain is not None


# --- end of issue 16's block ---------------------------------------------------------------


class Preset(BaseModel):
    """How one marketplace (or use) wants the product image."""

    name: str
    marketplace: str
    description: str
    layout: Literal["square", "trim", "scene"] = Field(
        description="square: product centred on a size x size canvas; trim: cutout cropped "
        "to the product plus a margin; scene: product placed where the backdrop's scene says."
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
    centre_y: float = Field(
        0.5,
        gt=0.0,
        lt=1.0,
        description="Product centre's distance from the top, as a share of the canvas side "
        "(square layout); below 0.5 lifts the product to leave room for a reflection.",
    )
    backdrop: Backdrop | None = Field(
        None, description="What the product stands on; null: `background` (or transparency)."
    )
    shadow: Shadow | None = Field(None, description="Shadow or reflection; null: none.")
    edges: Edges = Field(default_factory=Edges, description="Soft-edge colour clean-up.")
    enhance: Enhance | None = Field(
        None, description="Opt-in corrections of the product's own pixels; null: none."
    )
    harmonise: Harmonise | None = Field(
        None, description="Bounded match of the product to a scene's light; null: none."
    )
    output: OutputFormat
    rules: PresetRules
    compliance: PresetCompliance = Field(default_factory=PresetCompliance)  # issue 16

    @model_validator(mode="after")
    def _square_needs_canvas(self) -> Preset:
        if self.layout == "square" and (self.size is None or self.fill is None):
            raise ValueError("a square preset needs size and fill")
        if self.background is not None and self.backdrop is not None:
            raise ValueError("give a background or a backdrop, not both")
        opaque = self.background is not None or self.backdrop is not None
        if not opaque and self.output.format == "JPEG":
            raise ValueError("JPEG has no transparency: give a background")
        if (self.layout == "scene") != (
            self.backdrop is not None and self.backdrop.kind == "scene"
        ):
            raise ValueError("a scene backdrop goes with the scene layout, and only with it")
        if self.layout == "scene" and self.size is None:
            raise ValueError("a scene preset needs size (the output's side)")
        if self.shadow is not None and not opaque:
            raise ValueError("a shadow needs a background or a backdrop to fall on")
        if self.harmonise is not None and self.layout != "scene":
            raise ValueError("harmonisation matches a product to a scene: it needs one")
        if self.layout == "square" and self.fill is not None:
            low, high = self.centre_y - self.fill / 2, self.centre_y + self.fill / 2
            if low < 0 or high > 1:
                raise ValueError(
                    f"fill {self.fill} at centre_y {self.centre_y} places the product off-canvas"
                )
        return self

    @property
    def canvas(self) -> Backdrop | None:
        """The backdrop to paint: the declared one, `background` as a solid, or None."""
        if self.backdrop is not None:
            return self.backdrop
        if self.background is not None:
            return SolidBackdrop(kind="solid", colour=self.background)
        return None

    @property
    def min_source_side(self) -> int:
        return int(self.rules.min_source_side.value)


@cache
def load_presets() -> dict[str, Preset]:
    """Every preset in schemas/presets/, by name."""
    presets = {}
    for path in sorted(PRESET_DIR.glob("*.json")):
        preset = Preset.model_validate(json.loads(path.read_text()))
        presets[preset.name] = preset
    return presets


def load_outputs() -> dict[str, Preset | Template]:
    """Every preset and every ad template (schemas/creatives/), by name: what a run may render."""
    from schemas.creatives import load_templates  # it imports this module's OutputFormat

    return {**load_presets(), **load_templates()}


def get_preset(name: str) -> Preset | Template:
    """The preset or ad template called `name`, or a KeyError that lists the known names."""
    outputs = load_outputs()
    try:
        return outputs[name]
    except KeyError:
        raise KeyError(f"unknown preset {name!r}; known: {', '.join(outputs)}") from None


def _preset_enum() -> type[StrEnum]:
    """An Enum of the shipped presets' names: a flow parameter typed with it renders as a
    dropdown (multi-select in a list) and refuses unknown names before a run exists."""
    return StrEnum("PresetName", {name.upper().replace("-", "_"): name for name in _names()})


def _names() -> list[str]:
    """Presets' and ad templates' names. The templates' are read from their files: their model
    (schemas/creatives.py) imports this module, which builds the Enum while it loads."""
    templates = sorted(PRESET_DIR.with_name("creatives").glob("*.json"))
    return [*load_presets(), *(json.loads(path.read_text())["name"] for path in templates)]


PresetName = _preset_enum()


def parse_preset_names(values: list[str] | None, default: str = "amazon-main") -> list[str]:
    """Preset names from repeated and comma-separated options (`a,b` `c`), in order, once each;
    a KeyError naming the unknown one and the known names."""
    names = [part.strip() for value in values or [default] for part in value.split(",")]
    names = list(dict.fromkeys(name for name in names if name))
    for name in names:
        get_preset(name)
    return names or [default]
