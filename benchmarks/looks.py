"""Looks (issue 14): per-step milliseconds on a 2000 px output, on one core, and the quality
figures behind the steps (matting's colour error, white balance's cast removal).

Run: python -m benchmarks.looks [--repeat N]
The sample photos' masks come from the real model (one inference each, not timed).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from schemas.looks import (
    ContactShadow,
    DropShadow,
    Enhance,
    LinearBackdrop,
    RadialBackdrop,
    ReflectionShadow,
    SolidBackdrop,
    SweepBackdrop,
)
from schemas.presets import get_preset
from tasks.imaging import backdrops, scenes, shadows
from tasks.imaging.compose import compose
from tasks.imaging.enhance import cast, enhance
from tasks.imaging.matting import estimate_foreground
from tasks.imaging.recipe import DEFAULT_SCENES, RenderContext, _resize, render
from tasks.imaging.truth import opaque_core, product_truth

SAMPLES = sorted((Path(__file__).parents[1] / "samples").glob("*.jpg"))
SIDE = 2000


def _masks() -> list[tuple[Image.Image, Image.Image]]:
    from benchmarks.run import _session

    session = _session(1)
    pairs = []
    for path in SAMPLES:
        image = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
        pairs.append((image, session.predict(image)[0]))
    return pairs


def _ms(call, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def steps(image: Image.Image, mask: Image.Image, repeat: int) -> dict[str, float]:
    """Median ms of each step for one photo rendered at SIDE px."""
    ctx = RenderContext(image, mask)
    product = ctx.refined
    scale = SIDE * 0.85 / max(product.size)
    size = (round(product.width * scale), round(product.height * scale))
    layer = _resize(np.asarray(product), size)
    rgb, alpha = np.ascontiguousarray(layer[..., :3]), np.ascontiguousarray(layer[..., 3])
    origin = ((SIDE - size[0]) // 2, (SIDE - size[1]) // 2)
    place = shadows.Placement(alpha, origin, (SIDE, SIDE))
    white = backdrops.paint(SolidBackdrop(colour=(255, 255, 255)), (SIDE, SIDE))
    read = lambda key: (DEFAULT_SCENES / key).read_bytes()  # noqa: E731
    step = get_preset("tabletop-scene").backdrop
    scenes.load_scene(step, read, SIDE)  # decoded once per process, as in a batch

    def shade(kind) -> None:
        canvas = white.copy()
        if isinstance(kind, ReflectionShadow):
            shadows.reflect(canvas, layer, origin, kind)
            return
        found = shadows.shadow_layer(kind, place)
        assert found is not None
        shadows.darken(canvas, found[0], found[1], kind.colour)

    def scene() -> None:
        framed = scenes.load_scene(step, read, SIDE)
        canvas = framed.canvas.copy()
        x0, y0, x1, y1 = framed.box
        harmonise = get_preset("tabletop-scene").harmonise
        assert harmonise is not None
        b, c = scenes.harmonise_gains(rgb, alpha, canvas[y0:y1, x0:x1], harmonise)
        scenes.apply_gains(rgb, c * b)

    full = Enhance(white_balance=True, levels=True, denoise=0.3, sharpen=0.3)
    figures = {
        "matting (per photo, source size)": _ms(lambda: RenderContext(image, mask).refined, repeat),
        "resize to 2000 px": _ms(lambda: _resize(np.asarray(product), size), repeat),
        "product truth": _ms(
            lambda: product_truth(
                _resize(np.asarray(image.crop(ctx.box)), size),
                rgb,
                opaque_core(np.asarray(mask.crop(ctx.box)), size),
            ),
            repeat,
        ),
        "shadow: contact": _ms(lambda: shade(ContactShadow(opacity=0.7)), repeat),
        "shadow: drop": _ms(lambda: shade(DropShadow()), repeat),
        "shadow: reflection": _ms(lambda: shade(ReflectionShadow()), repeat),
        "backdrop: solid": _ms(lambda: white.copy(), repeat),
        "backdrop: linear": _ms(
            lambda: backdrops.paint(LinearBackdrop(start=(250,) * 3, end=(200,) * 3), (SIDE,) * 2),
            repeat,
        ),
        "backdrop: radial": _ms(
            lambda: backdrops.paint(RadialBackdrop(inner=(250,) * 3, outer=(90,) * 3), (SIDE,) * 2),
            repeat,
        ),
        "backdrop: sweep": _ms(
            lambda: backdrops.paint(SweepBackdrop(wall=(240,) * 3, floor=(220,) * 3), (SIDE,) * 2),
            repeat,
        ),
        "scene: frame (cached) + harmonise": _ms(scene, repeat),
        "enhance: all four": _ms(lambda: enhance(rgb, alpha, full), repeat),
    }
    figures["compose.py amazon-main (before issue 14)"] = _ms(
        lambda: compose(image, mask, get_preset("amazon-main")), repeat
    )
    for name in ("amazon-main", "studio-shadow", "spotlight", "tabletop-scene", "transparent"):
        preset = get_preset(name)
        figures[f"render {name} (whole)"] = _ms(lambda p=preset: render(p, ctx), repeat)
    return figures


def known_foreground(image: Image.Image, mask: Image.Image) -> np.ndarray:
    """A foreground colour defined everywhere: the photo's opaque product, and beyond it the
    product's colours carried outward (inpainted at 1/4 size), as fur tips continue the coat."""
    rgb = np.asarray(image)
    alpha = np.asarray(mask)
    small = cv2.resize(rgb, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    hole = cv2.resize((alpha < 255).astype(np.uint8), small.shape[1::-1], cv2.INTER_NEAREST)
    filled = cv2.inpaint(small, hole, 9, cv2.INPAINT_TELEA)
    fore = cv2.resize(filled, rgb.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    fore[alpha == 255] = rgb[alpha == 255]
    return fore


def matting_error(pairs) -> list[tuple[float, float, bool]]:
    """Mean colour error (0..255) in the 5-95% alpha band of composites with known colours:
    each photo's known foreground (above) under its own mask, onto the next photo; the naive
    cutout keeps the blend itself, the estimate is blur-fusion's. Also: opaque pixels kept."""
    out = []
    for index, (image, mask) in enumerate(pairs):
        fore = known_foreground(image, mask).astype(np.float32)
        back = np.asarray(pairs[(index + 1) % len(pairs)][0].resize(image.size), np.float32)
        alpha = np.asarray(mask)
        a = alpha[..., None] / 255.0
        blend = (a * fore + (1 - a) * back + 0.5).astype(np.uint8)
        band = (alpha >= 13) & (alpha <= 242)
        found = estimate_foreground(blend, alpha)
        naive = np.abs(blend - fore)[band].mean()
        error = np.abs(found - fore)[band].mean()
        kept = bool((found[alpha == 255] == blend[alpha == 255]).all())
        out.append((float(naive), float(error), kept))
    return out


def cast_removal(pairs) -> list[tuple[float, float, float, float]]:
    """White balance on each photo's product, from a neutral start: the photo balanced once
    (`base`). Returns the correction a second balance applies to `base` (per mille, ~0 for a
    neutral photo), then the cast of base's neutral areas (opaque, saturation < 0.12, not
    clipped) with +15% blue, after white balance, and the first correction of the photo as
    shot."""
    out = []
    for image, mask in pairs:
        rgb, alpha = np.asarray(image), np.asarray(mask)
        shot = enhance(rgb, alpha, Enhance(white_balance=True))
        base = shot.pixels
        again = enhance(base, alpha, Enhance(white_balance=True)).white_balance
        px = base.astype(np.float32)
        top = px.max(axis=2)
        neutral = (alpha == 255) & ((top - px.min(axis=2)) < 0.12 * top) & (top > 40)
        neutral &= top * 1.15 < 250  # still measurable once tinted: not clipped
        px[..., 2] *= 1.15
        tinted = np.clip(px + 0.5, 0, 255).astype(np.uint8)
        before = cast(tinted[neutral])
        after = cast(enhance(tinted, alpha, Enhance(white_balance=True)).pixels[neutral])
        out.append((again, before, after, shot.white_balance))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    pairs = _masks()
    print(f"per-step ms, median of {args.repeat}, {SIDE} px output, one core")
    table = [steps(image, mask, args.repeat) for image, mask in pairs]
    for name in table[0]:
        values = [row[name] for row in table]
        print(f"  {name:40s} {min(values):7.1f} .. {max(values):7.1f}")
    print("matting: colour error in the 5-95% alpha band (naive -> estimated)")
    for path, (naive, found, kept) in zip(SAMPLES, matting_error(pairs), strict=True):
        print(
            f"  {path.stem:10s} {naive:6.2f} -> {found:6.2f}  ({1 - found / naive:.0%} less)"
            f"  opaque pixels untouched: {kept}"
        )
    print("white balance: neutral photo's correction; +15% blue cast -> corrected; as shot")
    for path, (again, before, after, shot) in zip(SAMPLES, cast_removal(pairs), strict=True):
        print(
            f"  {path.stem:10s} neutral {again:5.1f} per mille; cast {before:.4f} -> "
            f"{after:.4f} ({1 - after / before:.0%} less); as shot {shot:.1f} per mille"
        )


if __name__ == "__main__":
    main()
