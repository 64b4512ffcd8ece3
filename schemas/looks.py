"""The steps of a preset's recipe, as data: backdrop, shadow, edges, enhancement, harmonisation.

Each step kind is one pydantic model with a `kind` tag; tasks/imaging/recipe.py turns it into a
call of one pure function. A new look is a JSON preset; a new step kind is one model here plus
one function in tasks/imaging/. `SceneSpec` is the small JSON a seller puts beside a scene photo.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

RGB = tuple[
    Annotated[int, Field(ge=0, le=255)],
    Annotated[int, Field(ge=0, le=255)],
    Annotated[int, Field(ge=0, le=255)],
]
Share = Annotated[float, Field(ge=0.0, le=1.0)]


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SolidBackdrop(_Step):
    """One flat colour."""

    kind: Literal["solid"] = "solid"
    colour: RGB


class LinearBackdrop(_Step):
    """A straight blend from `start` to `end` colour along `angle` (0: left to right,
    90: top to bottom)."""

    kind: Literal["linear"] = "linear"
    start: RGB
    end: RGB
    angle: float = Field(90.0, ge=0.0, lt=360.0)


class RadialBackdrop(_Step):
    """A glow: `inner` at `centre` (shares of width, height) blending to `outer` at `radius`
    (share of the canvas diagonal)."""

    kind: Literal["radial"] = "radial"
    inner: RGB
    outer: RGB
    centre: tuple[Share, Share] = (0.5, 0.45)
    radius: float = Field(0.7, gt=0.0, le=2.0)


class SweepBackdrop(_Step):
    """A studio sweep (cyclorama): the wall colour above `horizon` curving into the floor
    colour below it over `curve` (shares of the canvas height); the floor darkens slightly
    toward the curve, where the wall's light does not reach."""

    kind: Literal["sweep"] = "sweep"
    wall: RGB
    floor: RGB
    horizon: float = Field(0.62, gt=0.0, lt=1.0)
    curve: float = Field(0.18, gt=0.0, le=0.5)
    floor_shade: float = Field(0.06, ge=0.0, le=0.5, description="Darkening at the curve.")


class SceneBackdrop(_Step):
    """A seller's photo: `spec` is the key of its SceneSpec JSON in the scene storage."""

    kind: Literal["scene"] = "scene"
    spec: str = Field(min_length=1, description="Key of the scene's JSON spec (see SceneSpec).")


Backdrop = Annotated[
    SolidBackdrop | LinearBackdrop | RadialBackdrop | SweepBackdrop | SceneBackdrop,
    Field(discriminator="kind"),
]


class _ShadowBase(_Step):
    opacity: float = Field(0.5, gt=0.0, le=1.0, description="Darkness where the shadow is full.")
    colour: RGB = (0, 0, 0)
    edge_clearance: float = Field(
        0.02,
        ge=0.0,
        lt=0.25,
        description="Share of the canvas side along every edge the shadow never reaches "
        "(keeps a white preset's outer ring exactly white); 0 lets it run off a scene.",
    )


class ContactShadow(_ShadowBase):
    """The soft shadow where the product meets the floor, from the mask's lower contour."""

    kind: Literal["contact"] = "contact"
    spread: float = Field(
        0.06, gt=0.0, le=0.5, description="Depth below the contact, share of the product's height."
    )
    softness: float = Field(0.02, ge=0.0, le=0.2, description="Blur, share of the product's side.")


class DropShadow(_ShadowBase):
    """The product's silhouette cast onto the floor by a light: the shadow falls toward
    `direction` (degrees on screen: 0 right, 90 toward the viewer, 270 away), longer as the
    light's `elevation` drops; `distance` shifts it (share of the product's height)."""

    kind: Literal["drop"] = "drop"
    direction: float = Field(300.0, ge=0.0, lt=360.0)
    elevation: float = Field(50.0, ge=10.0, le=90.0)
    distance: float = Field(0.0, ge=0.0, le=0.5)
    softness: float = Field(0.03, ge=0.0, le=0.2, description="Blur, share of the product's side.")


class ReflectionShadow(_ShadowBase):
    """A mirror image on a glossy floor, fading out over `fade` (share of the product's height)."""

    kind: Literal["reflection"] = "reflection"
    opacity: float = Field(0.3, gt=0.0, le=1.0)
    fade: float = Field(0.35, gt=0.0, le=1.0)
    gap: float = Field(0.0, ge=0.0, le=0.1, description="Space under the product, share of height.")


Shadow = Annotated[ContactShadow | DropShadow | ReflectionShadow, Field(discriminator="kind")]


class Edges(_Step):
    """Clean edges: re-estimate the product's colour where the mask is partly transparent."""

    refine: bool = True


class Enhance(_Step):
    """Opt-in corrections measured on the product only; each amount is recorded."""

    white_balance: bool = False
    levels: bool = False
    denoise: float = Field(0.0, ge=0.0, le=1.0, description="Blend toward a 3x3 median.")
    sharpen: float = Field(0.0, ge=0.0, le=1.0, description="Unsharp-mask amount.")


class Harmonise(_Step):
    """Move the product's brightness and colour part of the way toward its scene's, within
    bounds: a gain never beyond 1 +- the stated share."""

    strength: float = Field(0.5, ge=0.0, le=1.0, description="Share of the difference matched.")
    max_brightness: float = Field(0.15, ge=0.0, le=0.5)
    max_colour: float = Field(0.08, ge=0.0, le=0.3)


class Light(_Step):
    direction: float = Field(
        300.0, ge=0.0, lt=360.0, description="Where shadows fall (see DropShadow)."
    )
    elevation: float = Field(50.0, ge=10.0, le=90.0)
    opacity: float = Field(0.45, gt=0.0, le=1.0)
    softness: float = Field(0.04, ge=0.0, le=0.2)


class SceneSpec(_Step):
    """Where products stand in a scene photo. `box` (x0, y0, x1, y1, shares of the photo's
    width and height) is the space a product may take: it is fitted inside, scaled by `scale`,
    standing on the box's bottom edge (the floor line), centred across it."""

    image: str = Field(min_length=1, description="Key of the photo, beside the spec.")
    box: tuple[Share, Share, Share, Share]
    scale: float = Field(1.0, gt=0.0, le=1.0, description="Share of the box the product fills.")
    light: Light = Field(default_factory=Light)

    @model_validator(mode="after")
    def _box_on_canvas(self) -> SceneSpec:
        x0, y0, x1, y1 = self.box
        if not (x0 < x1 and y0 < y1):
            raise ValueError(f"box {self.box} is empty or inside out")
        if (x1 - x0) < 0.02 or (y1 - y0) < 0.02:
            raise ValueError(f"box {self.box} is too small to hold a product")
        return self
