"""Sniff, decode and validate an original: bytes -> `Decoded` image, or a `Rejection`.

The format is judged by the bytes, never by the file name. The pixel limit is enforced on the
header's dimensions, before any pixel is decoded. Multi-frame files (GIF, APNG, TIFF, WebP)
are judged by their first frame, which is what marketplaces show. HEIC/HEIF (iPhone cameras)
decode through pillow-heif, AVIF through Pillow's own plugin.
"""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
from dataclasses import dataclass

import numpy as np
import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

from schemas.catalog import Reason

# Formats Pillow decodes that a marketplace pipeline accepts as input.
SUPPORTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO", "HEIF", "AVIF"})
# HEIF's own opener; it applies the file's rotation (irot/imir) while decoding and keeps the
# EXIF orientation it replaced as info["original_orientation"]. AVIF is Pillow's.
pillow_heif.register_heif_opener()

# Magic numbers of formats we recognise but do not decode: named so the reason is specific.
_KNOWN_UNSUPPORTED: tuple[tuple[bytes, int, str], ...] = (
    (b"%PDF", 0, "PDF"),
    (b"8BPS", 0, "PSD"),
)
# HEIF-family brands (ISO base media "ftyp" box at byte 4): a file with one of these that does
# not decode is a damaged photo, not some other kind of file.
_HEIF_BRANDS = {b"heic": "HEIC", b"heix": "HEIC", b"mif1": "HEIF", b"msf1": "HEIF"}
_HEIF_BRANDS |= {b"avif": "AVIF", b"avis": "AVIF"}
EXIF_ORIENTATION = 0x0112
# Side a draft decode aims for: the inspection measures work at 512 px.
DRAFT_SIDE = 512
# What Pillow's decoders raise on damaged data (found by tests/tasks/test_fuzz.py and
# test_decode_heif.py: libavif's errors come as RuntimeError).
DECODER_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    struct.error,
    RuntimeError,
)


@dataclass(frozen=True)
class Rejection:
    """Why an input cannot be used: a stable code and a sentence for people."""

    reason: Reason
    detail: str


@dataclass
class Decoded:
    """An original, decoded, oriented and converted to RGB(A) 8-bit."""

    image: Image.Image
    format: str
    mode: str
    width: int
    height: int
    exif_orientation: int | None
    frames: int = 1
    icc_profile: str | None = None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sniff_unsupported(data: bytes) -> str | None:
    """The name of a recognised but unsupported format, from its magic number."""
    for magic, offset, name in _KNOWN_UNSUPPORTED:
        if data[offset : offset + len(magic)] == magic:
            return name
    head = data[:512].lstrip().lower()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return "SVG"
    return None


def decode_image(data: bytes, *, max_pixels: int, draft: bool = False) -> Decoded | Rejection:
    """Decode `data` as an image, or say exactly why it cannot be used.

    With `draft`, JPEGs are decoded at reduced scale (DCT scaling, up to 1/8) to about
    `DRAFT_SIDE` px: enough to inspect them, for paths that make no output. Width and height
    are always the full, oriented size.
    """
    if not data:
        return Rejection(Reason.EMPTY_FILE, "the file is empty (0 bytes)")
    unsupported = sniff_unsupported(data)
    if unsupported:
        return Rejection(Reason.UNSUPPORTED_FORMAT, f"{unsupported} files are not supported")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        return Rejection(Reason.DECOMPRESSION_BOMB, str(exc))
    except UnidentifiedImageError:
        if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
            return Rejection(Reason.CORRUPT, f"corrupt {_HEIF_BRANDS[data[8:12]]} data")
        return Rejection(Reason.NOT_AN_IMAGE, "the bytes are not an image format Pillow knows")
    except DECODER_ERRORS as exc:  # a known format whose header is broken
        return Rejection(Reason.CORRUPT, f"corrupt image header: {type(exc).__name__}: {exc}")
    if image.format not in SUPPORTED_FORMATS:
        return Rejection(Reason.UNSUPPORTED_FORMAT, f"{image.format} files are not supported")
    pixels = image.width * image.height
    if pixels > max_pixels:
        return Rejection(
            Reason.DECOMPRESSION_BOMB,
            f"{image.width}x{image.height} = {pixels:,} pixels exceeds the limit of {max_pixels:,}",
        )
    return _load(image, draft)


def _load(image: Image.Image, draft: bool) -> Decoded | Rejection:
    fmt, mode = image.format or "", image.mode
    try:
        orientation, applied = _orientation(image)
        frames = getattr(image, "n_frames", 1)
        width, height = image.size
        if orientation in (5, 6, 7, 8) and not applied:  # rotated by 90 degrees on display
            width, height = height, width
        image.seek(0)  # multi-frame files: the first frame is the product photo
        if draft and fmt == "JPEG":
            image.draft("RGB", (DRAFT_SIDE, DRAFT_SIDE))
        image.load()
        oriented = ImageOps.exif_transpose(image)
    except DECODER_ERRORS as exc:
        return Rejection(Reason.CORRUPT, f"truncated or corrupt {fmt} data: {exc}")
    profile = image.info.get("icc_profile")
    icc = icc_description(profile)
    rgb = to_srgb(to_8bit_rgb(oriented), profile, icc)
    return Decoded(rgb, fmt, mode, width, height, orientation, frames, icc)


def _orientation(image: Image.Image) -> tuple[int | None, bool]:
    """The EXIF orientation, and whether the decoder has applied it already: HEIF's does,
    and keeps the tag it replaced."""
    if "original_orientation" in image.info:
        return image.info["original_orientation"], True
    return image.getexif().get(EXIF_ORIENTATION), False


def to_srgb(image: Image.Image, profile: bytes | None, description: str | None) -> Image.Image:
    """Colours converted to sRGB when another profile (Display P3, Adobe RGB) is embedded:
    marketplaces and browsers assume sRGB, and untagged P3 photos look washed out."""
    if not profile or not description or "srgb" in description.lower() or image.mode != "RGB":
        return image
    try:
        from PIL import ImageCms

        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        return ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"))
    except Exception:  # an unusable profile: keep the pixels as they are
        return image


def icc_description(profile: bytes | None) -> str | None:
    """The embedded ICC profile's description ('sRGB IEC61966-2.1', 'Display P3'...)."""
    if not profile:
        return None
    try:
        from PIL import ImageCms

        return ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(profile))).strip()
    except Exception:  # a broken profile is not a broken photo
        return "unreadable"


def to_8bit_rgb(image: Image.Image) -> Image.Image:
    """RGB, or RGBA where the original has transparency; 16-bit and CMYK converted properly."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit greyscale: scale by the value range, not a clip at 255.
        array = np.asarray(image, dtype=np.float32)
        top = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        return Image.fromarray((array * (255.0 / top)).clip(0, 255).astype(np.uint8)).convert("RGB")
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")
