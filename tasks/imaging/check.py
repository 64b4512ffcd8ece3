"""The validation-only path: would this file pass a preset's source rules? No model, no output.

Decodes JPEGs at reduced scale (the measurements work at 512 px), so checking a folder costs
about what decoding it does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.catalog import Outcome
from schemas.presets import Preset
from tasks.imaging.decode import Rejection, decode_image
from tasks.imaging.inspect import measure_image
from tasks.imaging.rules import judge_source


@dataclass
class CheckResult:
    """The verdict on one file."""

    status: str
    reason: str | None = None
    detail: str | None = None
    warnings: list[str] = field(default_factory=list)
    width: int | None = None
    height: int | None = None
    format: str | None = None


def check_bytes(data: bytes, preset: Preset, *, max_pixels: int) -> CheckResult:
    """Everything but background removal: decode, inspect, apply the preset's source rules."""
    decoded = decode_image(data, max_pixels=max_pixels, draft=True)
    if isinstance(decoded, Rejection):
        return CheckResult(Outcome.REJECTED.value, decoded.reason.value, decoded.detail)
    rejection, warnings = judge_source(decoded, measure_image(decoded.image), preset)
    result = CheckResult(
        Outcome.PROCESSED.value,
        warnings=warnings,
        width=decoded.width,
        height=decoded.height,
        format=decoded.format,
    )
    if rejection:
        result.status, result.reason = Outcome.REJECTED.value, rejection.reason.value
        result.detail = rejection.detail
    return result


def _check_key(args: tuple[str, str, str, int]) -> CheckResult:
    from schemas.presets import get_preset
    from tasks.storage import Storage, UnusableObject

    source, key, preset, max_pixels = args
    try:
        return check_bytes(Storage(source).read(key), get_preset(preset), max_pixels=max_pixels)
    except UnusableObject as refused:  # a link, FIFO, device or huge file: never read
        return CheckResult(Outcome.REJECTED.value, refused.reason.value, refused.detail)
    except Exception as exc:  # one unreadable file is a failed verdict, not a crashed check
        return CheckResult(Outcome.FAILED.value, detail=f"{type(exc).__name__}: {exc}")


def check_source(source: str, preset: str, *, max_pixels: int) -> list[tuple[str, CheckResult]]:
    """Check every file under `source` on all cores; (key, verdict) pairs in key order."""
    import os
    from concurrent.futures import ProcessPoolExecutor

    from tasks.storage import Storage

    keys = Storage(source).list()
    jobs = [(source, key, preset, max_pixels) for key in keys]
    if len(keys) < 16:  # a pool costs more than it saves
        return list(zip(keys, map(_check_key, jobs), strict=True))
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        return list(zip(keys, pool.map(_check_key, jobs, chunksize=8), strict=True))
