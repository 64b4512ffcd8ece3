"""The recipe interpreter: (preset, per-image context) -> the output image and its facts.

A preset is data (schemas/presets.py, schemas/looks.py); this module chains the pure steps it
names: clean edges, layout and resize, enhancement, backdrop or scene, harmonisation, shadow
or reflection, compositing, and product truth. No preset is named here: a new look is a JSON
file. Work every preset of an image shares (the product's box, the refined cutout, the
original resized to a size) is computed once, lazily, on the `RenderContext`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from schemas.catalog import Reason
from schemas.looks import DropShadow, ReflectionShadow
from schemas.presets import Preset
from tasks.imaging import backdrops, scenes, shadows
from tasks.imaging.compose import cutout, foreground_box
from tasks.imaging.enhance import enhance
from tasks.imaging.matting import OPAQUE, refine_cutout
from tasks.imaging.truth import opaque_core, product_truth

# The scenes shipped with packshot (made by scenes/make.py), used when a run names no folder.
DEFAULT_SCENES = Path(__file__).resolve().parents[2] / "scenes"
# Margin (px) around the product's box the matting sees: background to learn the old colour from.
MATTING_PAD = 24


class RenderRefused(ValueError):
    """This image cannot be rendered into this preset: a rejected row, with its reason code."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


class PresetError(ValueError):
    """A preset of the run cannot be rendered at all (one line, before the run starts)."""


@dataclass
class RenderContext:
    """One image and its mask, and the work every preset of it shares (computed lazily)."""

    image: Image.Image
    mask: Image.Image  # mode L, the image's size
    scenes: Callable[[str], bytes] | None = None  # read(key) of the run's scene storage
    extras: dict[str, object] = field(default_factory=dict)  # per-image inputs (manifest row...)
    _resized: dict[tuple[int, int], tuple] = field(default_factory=dict, repr=False)

    @cached_property
    def mask_box(self) -> tuple[int, int, int, int] | None:
        return foreground_box(self.mask)

    @cached_property
    def box(self) -> tuple[int, int, int, int]:
        box = self.mask_box
        if box is None:
            raise RenderRefused(Reason.NO_FOREGROUND, "the mask has no product")
        return box

    @cached_property
    def matte(self) -> Image.Image:
        """The mask with near-opaque levels (>= OPAQUE) made opaque: the product's body shows
        no faint trace of the new background, and its pixels stay exactly its own."""
        return self.mask.point([v if v < OPAQUE else 255 for v in range(256)])

    @cached_property
    def cutout(self) -> Image.Image:
        """The product's box as RGBA, colours as photographed."""
        return cutout(self.image.crop(self.box), self.matte.crop(self.box))

    @cached_property
    def refined(self) -> Image.Image:
        """The product's box as RGBA, soft edges in the product's own colour."""
        x0, y0, x1, y1 = self.box
        pad = (
            max(0, x0 - MATTING_PAD),
            max(0, y0 - MATTING_PAD),
            min(self.image.width, x1 + MATTING_PAD),
            min(self.image.height, y1 + MATTING_PAD),
        )
        wide = refine_cutout(self.image.crop(pad), self.matte.crop(pad))
        return wide.crop((x0 - pad[0], y0 - pad[1], x1 - pad[0], y1 - pad[1]))

    def original(self, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """The original's product box resized to `size` as the product is, and the opaque
        core to compare it on (for truth; shared by the presets of one output size)."""
        if size not in self._resized:
            crop = np.asarray(self.image.crop(self.box).convert("RGB"))
            core = opaque_core(np.asarray(self.mask.crop(self.box)), size)
            self._resized[size] = (_resize(crop, size), core)
        return self._resized[size]


@dataclass
class Rendered:
    """The output image and the catalog columns its recipe fills (column -> value)."""

    image: Image.Image
    facts: dict[str, object]


def _resize(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`pixels` resized to `size` (width, height): area averaging to shrink, bicubic to enlarge.
    Colours are not premultiplied: the refined foreground is the product's colour everywhere,
    so nothing from behind the product can bleed in."""
    if pixels.shape[1::-1] == size:
        return pixels
    shrink = size[0] < pixels.shape[1]
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def _layout(preset: Preset, product: tuple[int, int], scene: scenes.Scene | None):
    """Canvas size, product size and the product's top-left corner on the canvas."""
    if scene is not None:
        size, origin = scenes.placement(scene, product)
        return (len(scene.canvas), len(scene.canvas)), size, origin
    if preset.layout == "trim":
        pad = round(max(product) * preset.margin)
        return (product[0] + 2 * pad, product[1] + 2 * pad), product, (pad, pad)
    assert preset.size is not None and preset.fill is not None
    scale = preset.size * preset.fill / max(product)
    size = (max(1, round(product[0] * scale)), max(1, round(product[1] * scale)))
    top = min(max(0, round(preset.centre_y * preset.size - size[1] / 2)), preset.size - size[1])
    return (preset.size, preset.size), size, ((preset.size - size[0]) // 2, top)


def scene_reader(url: str | None) -> Callable[[str], bytes] | None:
    """`read(key)` of the scene storage at `url` (a folder or s3:// prefix), through the same
    storage layer as the photos; None (packshot's own scenes/) when no URL is set."""
    if not url:
        return None
    from tasks.storage import Storage

    return Storage(url).read


def _scene(preset: Preset, ctx: RenderContext) -> scenes.Scene | None:
    step = preset.canvas
    if step is None or step.kind != "scene":
        return None
    read = ctx.scenes or _folder_reader(DEFAULT_SCENES)
    assert preset.size is not None
    try:
        return scenes.load_scene(step, read, preset.size)
    except scenes.SceneError as error:
        raise RenderRefused(Reason.SCENE_UNAVAILABLE, str(error)) from error


def _folder_reader(folder: Path) -> Callable[[str], bytes]:
    return lambda key: (folder / key).read_bytes()


def render(preset: Preset, ctx: RenderContext) -> Rendered:
    """The deliverable of `preset` for the context's image, and what its recipe did."""
    backdrop = preset.canvas
    facts: dict[str, object] = {
        "backdrop": backdrop.kind if backdrop else None,
        "shadow": preset.shadow.kind if preset.shadow else None,
        "edge_refined": preset.edges.refine,
    }
    altered: list[str] = []
    scene = _scene(preset, ctx)
    product = ctx.refined if preset.edges.refine else ctx.cutout
    canvas_size, size, origin = _layout(preset, product.size, scene)
    layer = _resize(np.asarray(product), size)
    rgb, alpha = np.ascontiguousarray(layer[..., :3]), np.ascontiguousarray(layer[..., 3])
    if preset.enhance is not None:
        rgb = _enhance(rgb, alpha, preset, facts, altered)
    canvas = None
    if scene is not None:
        canvas = scene.canvas.copy()
        rgb = _harmonise(rgb, alpha, scene, preset, facts, altered)
    elif backdrop is not None:
        canvas = backdrops.paint(backdrop, canvas_size)
    if canvas is not None:
        _shade(canvas, rgb, alpha, origin, _shadow_step(preset, scene), facts)
    image = _composite(canvas, rgb, alpha, origin, canvas_size)
    truth = product_truth(*_truth_inputs(ctx, image, origin, size, alpha))
    facts["product_delta"] = truth.mean if truth else None
    facts["product_delta_p99"] = truth.p99 if truth else None
    facts["altered_by"] = altered
    return Rendered(image, facts)


def _truth_inputs(ctx: RenderContext, image: Image.Image, origin, size, alpha: np.ndarray):
    reference, core = ctx.original(size)
    return reference, _region(image, origin, size), core & (alpha == 255)  # shown as it is


def _enhance(rgb, alpha, preset: Preset, facts: dict, altered: list[str]) -> np.ndarray:
    step = preset.enhance
    assert step is not None
    done = enhance(rgb, alpha, step)
    facts.update(
        enhance_white_balance=done.white_balance,
        enhance_exposure=done.exposure,
        enhance_contrast=done.contrast,
        enhance_denoise=done.denoise,
        enhance_sharpen=done.sharpen,
    )
    names = {"white_balance": step.white_balance, "levels": step.levels}
    names |= {"denoise": step.denoise > 0, "sharpen": step.sharpen > 0}
    altered.extend(name for name, on in names.items() if on)
    return done.pixels


def _harmonise(rgb, alpha, scene, preset: Preset, facts: dict, altered: list[str]) -> np.ndarray:
    if preset.harmonise is None:
        return rgb
    x0, y0, x1, y1 = scene.box
    brightness, colour = scenes.harmonise_gains(
        rgb, alpha, scene.canvas[y0:y1, x0:x1], preset.harmonise
    )
    facts["harmonise_brightness"] = round(brightness, 4)
    facts["harmonise_colour"] = round(float(colour[np.abs(colour - 1).argmax()]), 4)
    altered.append("harmonise")
    return scenes.apply_gains(rgb, colour * brightness)


def _shadow_step(preset: Preset, scene: scenes.Scene | None):
    if scene is None:
        return preset.shadow
    light = scene.spec.light
    return DropShadow(
        direction=light.direction,
        elevation=light.elevation,
        opacity=light.opacity,
        softness=light.softness,
        edge_clearance=0.0,
    )


def _shade(canvas, rgb, alpha, origin, step, facts: dict) -> None:
    """The step's shadow or reflection drawn on `canvas` (before the product is pasted)."""
    if step is None:
        return
    facts["shadow"] = step.kind
    before = canvas.copy() if step.edge_clearance else None
    if isinstance(step, ReflectionShadow):
        shadows.reflect(canvas, np.dstack([rgb, alpha]), origin, step)
    else:
        layer = shadows.shadow_layer(step, shadows.Placement(alpha, origin, canvas.shape[1::-1]))
        if layer is not None:
            shadows.darken(canvas, layer[0], layer[1], step.colour)
    if before is not None:
        shadows.clear_ring(canvas, before, round(step.edge_clearance * min(canvas.shape[:2])))


def _composite(canvas, rgb, alpha, origin, canvas_size) -> Image.Image:
    """The product pasted through its alpha; with no canvas, an RGBA image whose fully
    transparent pixels are zero (no trace of the seller's room in a transparent PNG)."""
    product, matte = Image.fromarray(rgb), Image.fromarray(alpha)
    if canvas is None:
        out = Image.new("RGBA", canvas_size, (0, 0, 0, 0))
        shown = matte.point([0] + [255] * 255)
        out.paste(Image.merge("RGBA", (*product.split(), matte)), origin, shown)
        return out
    out = Image.fromarray(canvas)
    out.paste(product, origin, matte)
    return out


def _region(image: Image.Image, origin: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    x, y = origin
    return np.asarray(image.crop((x, y, x + size[0], y + size[1])).convert("RGB"))


def validate_presets(presets: Iterable[object], scenes_read: Callable[[str], bytes] | None) -> None:
    """Raise PresetError (one line) if a preset of the run cannot render: its scene is
    missing, unreadable, or places the product off the output. Call it while planning."""
    read = scenes_read or _folder_reader(DEFAULT_SCENES)
    for preset in presets:
        if not isinstance(preset, Preset):
            continue  # an ad template (tasks/creatives) checks its own inputs
        step = preset.canvas
        if step is None or step.kind != "scene":
            continue
        assert preset.size is not None
        try:
            scenes.load_scene(step, read, preset.size)
        except scenes.SceneError as error:
            raise PresetError(f"preset {preset.name!r}: {error}") from error
