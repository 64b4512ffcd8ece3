"""Brand logos from a file or URL, kept in memory per process (one logo serves a whole run)."""

from __future__ import annotations

import io
import posixpath
from functools import lru_cache

import fsspec
from PIL import Image

MAX_LOGO_BYTES = 16 * 1024 * 1024


class LogoError(ValueError):
    """The logo cannot be read or is not an image."""


def resolve(source: str, base: str | None) -> str:
    """`source` as a URL: relative paths are taken from `base` (the manifest's folder)."""
    if "://" in source or source.startswith("/") or base is None:
        return source
    return posixpath.join(base, source)


@lru_cache(maxsize=32)
def load_logo(url: str) -> Image.Image:
    """The logo at `url` as RGBA, its transparency kept."""
    try:
        with fsspec.open(url, "rb") as handle:
            data = handle.read(MAX_LOGO_BYTES + 1)
        if len(data) > MAX_LOGO_BYTES:
            raise LogoError(f"logo {url}: larger than {MAX_LOGO_BYTES} bytes")
        logo = Image.open(io.BytesIO(data))
        logo.load()
    except (OSError, ValueError) as exc:
        raise LogoError(f"logo {url}: {type(exc).__name__}: {exc}") from None
    return logo.convert("RGBA")
