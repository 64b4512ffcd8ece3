"""Composites with exact ground truth for the cutout accuracy benchmark.

A product-like subject with true alpha (Microsoft's Fluent Emoji 3D, MIT, as the npm package
`@lobehub/fluent-emoji-3d` ships them: 256 px RGBA WebP) is scaled to a realistic share of the
frame, given a soft contact shadow, and laid onto one of five background kinds:

- white, light_grey: a studio sweep (flat, a faint vignette, sensor noise);
- colour_similar: a backdrop in the subject's own mean colour (white-on-white's harder cousin);
- textured: scikit-image's brick, grass, gravel and similar surfaces;
- busy: photographs (scikit-image's bundled photos and blurred crops of samples/*.jpg).

The composite is stored as a JPEG (quality 92, as a camera would hand it over) and its truth as
an 8-bit PNG alpha; the shadow is not part of the truth, since packshot removes and redraws it.
Everything is derived from the composite's index with its own seeded generator, so the set is
the same on every machine; it is cached under the model home, not committed.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

PACKAGE, VERSION = "@lobehub/fluent-emoji-3d", "1.1.0"
TARBALL_SHA256 = "c1bb7eee7de090205a232518a9ab4adb3df458bfbe8a1f78232991194c8b2e58"
SET_VERSION = "v1"  # bump when the generator changes: cached sets are keyed by it
SIDE = 640
KINDS = ("white", "light_grey", "colour_similar", "textured", "busy")

# Emoji code points of things shops sell: shoes, bags, watches, headphones, glasses, chairs,
# bottles, cosmetics, clothes, electronics, homeware, sports goods.
SUBJECTS = (
    "1f45f 1f45e 1f460 1f461 1f462 1f97e 1f97f 1fa74 1f45c 1f45b 1f392 1f4bc 1f9f3 1f45d "
    "1f6cd-fe0f 231a 23f0 1f3a7 1f453 1f576-fe0f 1f97d 1fa91 1f6cb-fe0f 1f37c 1f37e 1f9f4 1fad9 "
    "1f484 1f48d 1f9fc 1f9fd 1faa5 1f3a9 1f452 1f9e2 1f451 1f455 1f456 1f457 1f9e5 1f9e6 1f9e4 "
    "1f9e3 1f4f7 1f4f1 1f4bb 2328-fe0f 1f5b1-fe0f 1f3ae 1f579-fe0f 2602-fe0f 1f302 1f3fa "
    "1f56f-fe0f 1f4a1 1fab4 1fad6 2615 1f964 1f3c0 26bd 1f3b8 1f9f8 1f526 1fa92 1f6f9 1f6b2 "
    "1f381 1f4e6 23f1-fe0f 1f511 1fa9e 1f9fa 1f373 1f528 1f3c6"
).split()
TEXTURES = ("brick", "grass", "gravel", "cell", "coins", "moon")
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "camera", "immunohistochemistry")
SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@dataclass(frozen=True)
class Composite:
    """One generated test image: where its files are and how it was made."""

    index: int
    subject: str
    kind: str
    background: str
    fill: float
    cut_off: bool
    image: str
    alpha: str


def fetch_subjects(cache: Path) -> dict[str, Image.Image]:
    """The subjects' RGBA images, from the npm package (packed once, checked by sha256)."""
    tarball = cache / f"fluent-emoji-3d-{VERSION}.tgz"
    if not tarball.is_file():
        _npm_pack(tarball)
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    if digest != TARBALL_SHA256:
        tarball.unlink()
        raise RuntimeError(f"{PACKAGE}@{VERSION}: sha256 {digest} is not {TARBALL_SHA256}")
    subjects = {}
    with tarfile.open(tarball, "r:gz") as archive:
        for code in SUBJECTS:
            member = archive.extractfile(f"package/assets/{code}.webp")
            assert member is not None
            subjects[code] = Image.open(io.BytesIO(member.read())).convert("RGBA")
    return subjects


def _npm_pack(tarball: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(f"the subjects come from {PACKAGE}; install npm and run again")
    tarball.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [npm, "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", tmp, "--silent"],
            check=True,
            capture_output=True,
        )
        shutil.move(next(Path(tmp).glob("*.tgz")), tarball)


def _photo(name: str) -> np.ndarray:
    from skimage import data

    image = getattr(data, name)()
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return image[..., :3]


def _sample(name: str) -> np.ndarray:
    return np.asarray(Image.open(SAMPLES / name).convert("RGB"))


def _crop(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random square crop of at least half the shorter side, scaled to SIDE."""
    h, w = image.shape[:2]
    side = int(rng.uniform(0.5, 1.0) * min(h, w))
    y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    square = image[y : y + side, x : x + side]
    return cv2.resize(square, (SIDE, SIDE), interpolation=cv2.INTER_AREA)


def _studio(level: float, rng: np.random.Generator) -> np.ndarray:
    """A flat sweep at `level` (0..255) with a faint vignette and sensor noise."""
    yy, xx = np.mgrid[0:SIDE, 0:SIDE] / SIDE - 0.5
    vignette = 1.0 - rng.uniform(0.0, 0.12) * (xx**2 + yy**2) * 2
    tint = rng.uniform(-3, 3, size=3)
    plane = level * vignette[..., None] + tint + rng.normal(0, 1.5, (SIDE, SIDE, 3))
    return np.clip(plane, 0, 255).astype(np.uint8)


def _background(kind: str, subject: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    if kind == "white":
        return _studio(rng.uniform(247, 255), rng), "studio white"
    if kind == "light_grey":
        return _studio(rng.uniform(205, 235), rng), "studio grey"
    if kind == "colour_similar":
        return _similar(subject, rng), "subject colour"
    if kind == "textured":
        name = TEXTURES[int(rng.integers(len(TEXTURES)))]
        return _crop(_photo(name), rng), name
    names = [*PHOTOS, *(p.name for p in sorted(SAMPLES.glob("*.jpg")))]
    name = names[int(rng.integers(len(names)))]
    photo = _sample(name) if name.endswith(".jpg") else _photo(name)
    crop = _crop(photo, rng)
    sigma = rng.uniform(0.0, 6.0)  # depth of field: from sharp to a soft blur
    return (cv2.GaussianBlur(crop, (0, 0), sigma) if sigma > 0.5 else crop), name


def _similar(subject: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A backdrop in the subject's mean colour, with a gentle gradient."""
    alpha = subject[..., 3:4] / 255.0
    mean = (subject[..., :3] * alpha).sum((0, 1)) / max(alpha.sum(), 1.0)
    ramp = np.linspace(-1, 1, SIDE)[:, None, None] * rng.uniform(0, 18)
    plane = mean + rng.uniform(-12, 12, size=3) + ramp + rng.normal(0, 2.0, (SIDE, SIDE, 3))
    return np.clip(plane, 0, 255).astype(np.uint8)


def _place(subject: Image.Image, rng: np.random.Generator) -> tuple[np.ndarray, float, bool]:
    """The subject as a SIDE x SIDE float RGBA layer (straight alpha), its fill, cut-off flag."""
    box = subject.getbbox() or (0, 0, *subject.size)
    product = subject.crop(box)
    fill = float(rng.uniform(0.35, 0.8))
    scale = fill * SIDE / max(product.size)
    size = (max(1, round(product.width * scale)), max(1, round(product.height * scale)))
    rgba = np.asarray(product, dtype=np.float32) / 255.0
    premultiplied = np.concatenate([rgba[..., :3] * rgba[..., 3:], rgba[..., 3:]], axis=-1)
    big = cv2.resize(premultiplied, size, interpolation=cv2.INTER_CUBIC).clip(0, 1)
    cut_off = bool(rng.random() < 0.08)  # a few are framed too tight, as sellers' photos are
    slack_x, slack_y = SIDE - size[0], SIDE - size[1]
    x = int(rng.integers(0, slack_x + 1)) if slack_x > 0 else 0
    y = int(rng.integers(slack_y // 3, slack_y + 1)) if slack_y > 0 else 0
    if cut_off:
        x = int(rng.choice([-size[0] // 6, slack_x + size[0] // 6]))
    layer = np.zeros((SIDE, SIDE, 4), np.float32)
    _paste(layer, big, x, y)
    return layer, fill, cut_off


def _paste(layer: np.ndarray, patch: np.ndarray, x: int, y: int) -> None:
    h, w = patch.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, SIDE), min(y + h, SIDE)
    layer[y0:y1, x0:x1] = patch[y0 - y : y1 - y, x0 - x : x1 - x]


def _shadow(alpha: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A soft contact shadow: the subject's footprint squashed under it and blurred, 0..1."""
    ys = np.nonzero(alpha.max(axis=1) > 0.5)[0]
    if ys.size == 0:
        return np.zeros_like(alpha)
    bottom, height = int(ys[-1]), int(ys[-1] - ys[0] + 1)
    squash = rng.uniform(0.08, 0.2)
    flat = cv2.resize(alpha, (SIDE, max(1, int(SIDE * squash))), interpolation=cv2.INTER_AREA)
    shadow = np.zeros_like(alpha)
    top = min(SIDE - 1, bottom - flat.shape[0] // 2)
    rows = flat[: max(0, SIDE - top)]
    shadow[top : top + rows.shape[0]] = rows
    blur = max(1.0, height * rng.uniform(0.03, 0.08))
    return cv2.GaussianBlur(shadow, (0, 0), blur) * rng.uniform(0.25, 0.5)


def make(index: int, subjects: dict[str, Image.Image]) -> tuple[np.ndarray, np.ndarray, dict]:
    """Composite number `index`: RGB uint8, true alpha uint8, and how it was made."""
    rng = np.random.default_rng([20261203, index])
    code = SUBJECTS[int(rng.integers(len(SUBJECTS)))]
    kind = KINDS[index % len(KINDS)]
    layer, fill, cut_off = _place(subjects[code], rng)
    alpha = layer[..., 3]
    background, name = _background(kind, np.asarray(subjects[code]), rng)
    shaded = background * (1.0 - _shadow(alpha, rng))[..., None]
    rgb = layer[..., :3] * 255.0 + shaded * (1.0 - alpha[..., None])
    facts = {"subject": code, "kind": kind, "background": name, "fill": fill, "cut_off": cut_off}
    return (
        np.clip(rgb, 0, 255).round().astype(np.uint8),
        (alpha * 255).round().astype(np.uint8),
        facts,
    )


def build(cache: Path, count: int) -> list[Composite]:
    """The first `count` composites, generated into `cache` on first use."""
    folder = cache / f"composites-{SET_VERSION}"
    index_file = folder / "index.json"
    known = json.loads(index_file.read_text()) if index_file.is_file() else []
    if len(known) >= count:
        return [Composite(**entry) for entry in known[:count]]
    folder.mkdir(parents=True, exist_ok=True)
    subjects = fetch_subjects(cache)
    made = [Composite(**entry) for entry in known]
    for index in range(len(made), count):
        rgb, alpha, facts = make(index, subjects)
        image, matte = folder / f"{index:04d}.jpg", folder / f"{index:04d}-alpha.png"
        Image.fromarray(rgb).save(image, quality=92)
        Image.fromarray(alpha).save(matte)
        made.append(Composite(index=index, image=image.name, alpha=matte.name, **facts))
    index_file.write_text(json.dumps([asdict(c) for c in made], indent=1))
    return made
