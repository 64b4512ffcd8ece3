"""Ad creative templates: data files in schemas/creatives/, validated by the `Template` model.

A template is a canvas with named slots (boxes in canvas fractions): where the product goes,
where the headline, subline, price, badge and logo go, in which brand colours, on which
background. Templates are chosen like presets (`--preset ad-feed`) and share the preset's
output format and source rules, so the run plans and checks them the same way. Text slots may
never overlap the product slot or leave the canvas; the validator refuses a template that
would let text cover the product.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from schemas.looks import LinearBackdrop, RadialBackdrop, SolidBackdrop, SweepBackdrop
from schemas.presets import OutputFormat, PresetRules

TEMPLATE_DIR = Path(__file__).with_name("creatives")
# A manifest's SKU in a file name: its leading letters, digits and dashes (`AB-12_front.jpg`).
DEFAULT_SKU_PATTERN = r"^(?P<sku>[A-Za-z0-9-]+)"

RGB = tuple[int, int, int]


class Box(BaseModel):
    """A rectangle in canvas fractions (0..1): left, top, width, height."""

    x: float = Field(ge=0.0, le=1.0)
    y: float = Field(ge=0.0, le=1.0)
    w: float = Field(gt=0.0, le=1.0)
    h: float = Field(gt=0.0, le=1.0)

    @model_validator(mode="after")
    def _inside_canvas(self) -> Box:
        if self.x + self.w > 1.0 + 1e-9 or self.y + self.h > 1.0 + 1e-9:
            raise ValueError("a slot must lie inside the canvas")
        return self

    def pixels(self, width: int, height: int) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) in pixels of a width x height canvas."""
        left, top = round(self.x * width), round(self.y * height)
        return left, top, round((self.x + self.w) * width), round((self.y + self.h) * height)

    def overlaps(self, other: Box) -> bool:
        return (
            self.x < other.x + other.w
            and other.x < self.x + self.w
            and self.y < other.y + other.h
            and other.y < self.y + self.h
        )


class TextSlot(Box):
    """A box for text that shrinks from `max_size` to `min_size` px, wraps, then ellipsises."""

    max_size: int = Field(ge=6, le=400, description="Largest font size, px on the canvas.")
    min_size: int = Field(ge=6, le=400, description="Smallest font size before ellipsis.")
    max_lines: int = Field(2, ge=1, le=6, description="Lines before the text is cut with '…'.")
    align: Literal["left", "centre", "right"] = "left"
    weight: Literal["Regular", "Medium", "SemiBold", "Bold", "ExtraBold"] = "Bold"
    colour: Literal["text", "muted", "primary", "accent", "on_primary", "on_accent"] = "text"

    @model_validator(mode="after")
    def _sizes_ordered(self) -> TextSlot:
        if self.min_size > self.max_size:
            raise ValueError("min_size must not exceed max_size")
        return self


class PillSlot(TextSlot):
    """Text on a filled, rounded pill (price, badge): the pill hugs the text inside the box."""

    fill: Literal["primary", "accent", "text"] = "accent"
    padding: float = Field(0.45, ge=0.0, le=2.0, description="Pill padding, in font sizes.")


class ProductSlot(Box):
    """Where the product is fitted (contained, centred at the bottom or the middle)."""

    anchor: Literal["centre", "bottom"] = "centre"
    shadow: bool = Field(True, description="A soft contact shadow under the product.")


class Slots(BaseModel):
    product: ProductSlot
    headline: TextSlot
    subline: TextSlot | None = None
    price: PillSlot | None = None
    badge: PillSlot | None = None
    logo: Box | None = None

    def text_slots(self) -> dict[str, Box]:
        named = {"headline": self.headline, "subline": self.subline, "price": self.price}
        named |= {"badge": self.badge, "logo": self.logo}
        return {name: slot for name, slot in named.items() if slot is not None}


class Brand(BaseModel):
    """Brand colours (RGB) and an optional logo (file path or URL; PNG with transparency)."""

    text: RGB = (24, 24, 27)
    muted: RGB = (82, 82, 91)
    primary: RGB = (24, 24, 27)
    accent: RGB = (220, 38, 38)
    on_primary: RGB = (255, 255, 255)
    on_accent: RGB = (255, 255, 255)
    logo: str | None = Field(
        None, description="Logo file path (relative to schemas/creatives/) or URL."
    )

    def colour(self, name: str) -> RGB:
        return getattr(self, name)


class Generate(BaseModel):
    """Ask the configured generator plug-in for the background; the plain one is the fallback."""

    prompt: str = Field(min_length=1, max_length=2000)


# The presets' procedural backdrops (schemas/looks.py), which a template may use as they are.
ProceduralBackdrop = Annotated[
    SolidBackdrop | LinearBackdrop | RadialBackdrop | SweepBackdrop, Field(discriminator="kind")
]


class Background(BaseModel):
    """The backdrop under the product: a solid colour, a vertical gradient of up to four stops,
    or any procedural backdrop the presets have (`backdrop`); optionally generated by the
    plug-in (then this is the fallback when the generator fails or is off)."""

    kind: Literal["solid", "gradient", "backdrop"] = "gradient"
    colours: list[RGB] = Field(default_factory=list, max_length=4, description="Top to bottom.")
    backdrop: ProceduralBackdrop | None = Field(
        None, description="kind=backdrop: a preset backdrop (linear, radial, sweep, solid)."
    )
    generate: Generate | None = None

    @model_validator(mode="after")
    def _what_to_paint(self) -> Background:
        if (self.kind == "backdrop") != (self.backdrop is not None):
            raise ValueError("kind backdrop goes with a backdrop, and only with it")
        if self.kind != "backdrop" and not self.colours:
            raise ValueError(f"a {self.kind} background needs colours")
        return self

    @property
    def painted(self) -> str:
        """What the catalog's `backdrop` column says of it."""
        return self.backdrop.kind if self.backdrop is not None else self.kind


class Template(BaseModel):
    """An ad creative: a canvas, its slots, brand colours and background."""

    name: str
    kind: Literal["creative"] = "creative"
    marketplace: str = "ads"
    description: str
    width: int = Field(ge=64, le=8192)
    height: int = Field(ge=64, le=8192)
    background: Background
    brand: Brand = Field(default_factory=Brand)
    slots: Slots
    output: OutputFormat
    rules: PresetRules

    @model_validator(mode="after")
    def _text_clear_of_product(self) -> Template:
        for name, slot in self.slots.text_slots().items():
            if slot.overlaps(self.slots.product):
                raise ValueError(f"slot {name!r} overlaps the product slot")
        return self

    @property
    def min_source_side(self) -> int:
        return int(self.rules.min_source_side.value)

    @property
    def layout(self) -> str:
        """What the run's quality suite asks a preset (a creative is no square packshot)."""
        return "creative"

    @property
    def size(self) -> None:
        return None


@cache
def load_templates() -> dict[str, Template]:
    """Every template in schemas/creatives/, by name."""
    templates = {}
    for path in sorted(TEMPLATE_DIR.glob("*.json")):
        template = Template.model_validate(json.loads(path.read_text()))
        templates[template.name] = template
    return templates


def get_template(name: str) -> Template:
    """The template called `name`, or a KeyError that lists the known names."""
    templates = load_templates()
    try:
        return templates[name]
    except KeyError:
        raise KeyError(f"unknown template {name!r}; known: {', '.join(templates)}") from None
