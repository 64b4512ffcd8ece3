"""Clean edges, measured where the truth is known: the accuracy benchmark's composites.

    python -m benchmarks.matting [--limit 300]

Each composite of benchmarks.composites is rebuilt in memory with its product's true colour
(the emoji render's RGB) beside its true alpha. Under that alpha, the colour error in the
5-95% alpha band is measured twice against the true colour: for the naive cutout (the
composite's own pixels, which carry the background) and for `estimate_foreground`
(tasks/imaging/matting.py). The mask is the true alpha, so the figure is the foreground
estimation's alone, not the model's. Results: benchmarks/out/matting.json, by background kind.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks import composites
from benchmarks.accuracy import CACHE
from tasks.imaging.matting import OPAQUE, estimate_foreground

OUT = Path(__file__).resolve().parent / "out"


def truth(index: int, subjects: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Composite `index` as composites.make builds it, with the product's true colour."""
    rgb, alpha, facts = composites.make(index, subjects)
    rng = np.random.default_rng([20261203, index])  # the same draws as make()
    code = composites.SUBJECTS[int(rng.integers(len(composites.SUBJECTS)))]
    layer, _, _ = composites._place(subjects[code], rng)  # premultiplied RGB, straight alpha
    straight = layer[..., :3] / np.maximum(layer[..., 3:], 1e-6)
    return rgb, alpha, np.clip(straight * 255.0, 0, 255), facts["kind"]


def band_errors(
    rgb: np.ndarray, alpha: np.ndarray, fore: np.ndarray
) -> tuple[float, float, int, float]:
    """Mean absolute colour error (0..255) in the 5-95% alpha band: naive, estimated, pixels;
    and the largest change the estimate made to an opaque pixel (must be 0)."""
    band = (alpha >= 13) & (alpha <= 242)
    estimated = estimate_foreground(rgb, alpha).astype(np.float32)
    opaque = alpha >= OPAQUE
    moved = float(np.abs(estimated[opaque] - rgb[opaque]).max()) if opaque.any() else 0.0
    if not band.any():
        return 0.0, 0.0, 0, moved
    naive = float(np.abs(rgb.astype(np.float32)[band] - fore[band]).mean())
    return naive, float(np.abs(estimated[band] - fore[band]).mean()), int(band.sum()), moved


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=300)
    args = parser.parse_args(argv)
    subjects = composites.fetch_subjects(CACHE)
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    moved = 0.0
    for index in range(args.limit):
        rgb, alpha, fore, kind = truth(index, subjects)
        naive, estimated, pixels, opaque_moved = band_errors(rgb, alpha, fore)
        moved = max(moved, opaque_moved)
        for key in (kind, "all"):
            sums[key][0] += naive * pixels
            sums[key][1] += estimated * pixels
            sums[key][2] += pixels
    result = {
        kind: {
            "naive": round(n / p, 2),
            "estimated": round(e / p, 2),
            "reduction": round(1 - e / n, 3),
        }
        for kind, (n, e, p) in sums.items()
        if p
    }
    result["opaque_max_change"] = moved
    result["composites"] = args.limit
    OUT.mkdir(exist_ok=True)
    (OUT / "matting.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
