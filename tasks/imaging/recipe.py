"""The recipe interpreter: (preset, one image's shared work) -> one deliverable and its facts.

A preset is data; `render` turns it into calls of pure steps (image, mask -> image). The batch
calls it once per (image, preset) from the same mask, so a run's extra presets cost
milliseconds, not inferences. Work several presets share (the product's box, its cutout) is
computed once per image in `RenderContext`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from PIL import Image

from schemas.presets import Preset
from tasks.imaging.compose import compose


@dataclass
class RenderContext:
    """One original and its mask, with the work every preset of the run may reuse."""

    image: Image.Image
    mask: Image.Image  # mode L, the image's size
    extras: dict[str, object] = field(default_factory=dict)  # per-image inputs (scenes, text)

    @cached_property
    def mask_box(self) -> tuple[int, int, int, int] | None:
        from tasks.imaging.compose import foreground_box

        return foreground_box(self.mask)


@dataclass
class Rendered:
    """The composed output and the catalog facts its recipe produced (column -> value)."""

    image: Image.Image
    facts: dict[str, object] = field(default_factory=dict)


def render(preset: Preset, ctx: RenderContext) -> Rendered:
    """The deliverable for `preset` from `ctx`'s image and mask."""
    return Rendered(compose(ctx.image, ctx.mask, preset), {"altered_by": []})
