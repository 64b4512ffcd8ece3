"""Golden masks for the end-to-end test: where the product sits on the amazon-main canvas.

A mask is the output's non-white region at 250x250. Regenerate after an intended change of
model or composition with: python -m tests.e2e.golden packshot-demo/amazon-main
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

GOLDEN = Path(__file__).with_name("golden")
SIDE = 250
WHITE = 245  # at or above this in every channel counts as background


def product_mask(path: Path) -> np.ndarray:
    """Boolean SIDExSIDE mask of the non-white pixels of a composed image."""
    image = Image.open(path).convert("RGB").resize((SIDE, SIDE), Image.Resampling.BOX)
    return np.any(np.asarray(image) < WHITE, axis=2)


def main(folder: str) -> None:
    GOLDEN.mkdir(exist_ok=True)
    for path in sorted(Path(folder).glob("*.jpg")):
        mask = product_mask(path)
        Image.fromarray(mask.astype(np.uint8) * 255).save(GOLDEN / f"{path.stem}.png")
        print(path.stem, round(float(mask.mean()), 3))


if __name__ == "__main__":
    main(sys.argv[1])
