"""Run reports: counts, the summary table, the before/after contact sheet, progress lines."""

from __future__ import annotations

import io
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from PIL import Image, ImageDraw, ImageFont, ImageOps

from schemas.catalog import CatalogRow, Outcome

THUMB = 256  # contact sheet cell side, px
SHEET_LIMIT = 24  # originals on one contact sheet: enough to eyeball a run, small enough to open
SHEET_CELLS = 4  # cells a line holds before it takes one original only


def count_outcomes(rows: list[CatalogRow]) -> tuple[Counter[str], Counter[str]]:
    """Counts by outcome and by reason code."""
    outcomes = Counter(row.status for row in rows)
    reasons = Counter(row.reason or row.status for row in rows if row.status != Outcome.PROCESSED)
    return outcomes, reasons


def count_by_preset(rows: list[CatalogRow]) -> dict[str, dict[str, int]]:
    """Per preset, (original, preset) pairs by outcome: the conservation law, preset by preset."""
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        by_status = counts.setdefault(row.preset, {o.value: 0 for o in Outcome})
        by_status[row.status] = by_status.get(row.status, 0) + 1
    return counts


def summary_table(rows: list[CatalogRow]) -> list[dict[str, object]]:
    """Rows of the run summary artifact: one per outcome and reason, with counts and shares."""
    seen = len(rows) or 1
    table = []
    for (preset, status, reason), count in sorted(
        Counter((row.preset, row.status, row.reason or row.error or "") for row in rows).items()
    ):
        table.append(
            {
                "preset": preset,
                "outcome": status,
                "reason": reason[:120],
                "images": count,
                "share": round(count / seen, 4),
            }
        )
    return table


def _thumbnail(data: bytes | None, label: str, *, bad: bool = False) -> Image.Image:
    cell = Image.new("RGB", (THUMB, THUMB + 20), (40, 40, 40) if bad else (235, 235, 235))
    if data:
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.draft("RGB", (THUMB, THUMB))
                thumb = ImageOps.exif_transpose(image).convert("RGBA")
                thumb.thumbnail((THUMB, THUMB))
                checker = Image.new("RGB", thumb.size, (200, 200, 200))
                checker.paste(thumb, (0, 0), thumb)
                cell.paste(checker, ((THUMB - thumb.width) // 2, (THUMB - thumb.height) // 2))
        except Exception:  # a file that cannot be shown is still listed, by its label
            pass
    draw = ImageDraw.Draw(cell)
    draw.text(
        (4, THUMB + 4),
        label[:40],
        fill=(200, 0, 0) if bad else (0, 0, 0),
        font=ImageFont.load_default(),
    )
    return cell


def contact_sheet(
    rows: list[CatalogRow], read_source: Callable[[str], bytes], read_output: Callable[[str], bytes]
) -> bytes:
    """A JPEG grid: each input, then every output made from it (one per preset, labelled), or
    the reason a preset has none."""
    by_original: dict[str, list[CatalogRow]] = {}
    for row in rows:
        by_original.setdefault(row.source_key, []).append(row)
    shown = list(by_original.items())[:SHEET_LIMIT]
    cells = 1 + max((len(group) for _, group in shown), default=1)
    per_line = max(1, SHEET_CELLS // cells)  # one preset: two originals side by side
    lines = max(1, -(-len(shown) // per_line))
    sheet = Image.new("RGB", (per_line * cells * THUMB, lines * (THUMB + 20)), (255, 255, 255))
    for index, (key, group) in enumerate(shown):
        x, y = (index % per_line) * cells * THUMB, (index // per_line) * (THUMB + 20)
        sheet.paste(_thumbnail(_safe(read_source, key), key.rsplit("/", 1)[-1]), (x, y))
        for column, row in enumerate(group, start=1):
            sheet.paste(_output_cell(row, read_output), (x + column * THUMB, y))
    out = io.BytesIO()
    sheet.save(out, format="JPEG", quality=85)
    return out.getvalue()


def _output_cell(row: CatalogRow, read_output: Callable[[str], bytes]) -> Image.Image:
    if row.status in (Outcome.PROCESSED, Outcome.NEEDS_REVIEW) and row.output_keys:
        label = row.preset if row.status == Outcome.PROCESSED else f"{row.preset} (review)"
        return _thumbnail(_safe(read_output, row.output_keys[0]), label)
    why = row.reason or row.error or ""
    return _thumbnail(None, f"{row.preset}: {row.status}: {why}", bad=True)


def _safe(read: Callable[[str], bytes], key: str) -> bytes | None:
    try:
        return read(key)
    except Exception:  # the sheet is a convenience: a missing file leaves a blank cell
        return None


def progress_line(done: int, total: int, elapsed: float) -> str:
    """`[######--------------] 12/40 images (30%) · 0.91 img/s · ~31 s left`."""
    rate = done / elapsed if elapsed > 0 else 0.0
    left = (total - done) / rate if rate > 0 else float("nan")
    eta = f"~{left:.0f} s left" if rate > 0 else "estimating"
    filled = round(BAR * done / max(total, 1))
    bar = "[" + "#" * filled + "-" * (BAR - filled) + "]"
    return f"{bar} {done}/{total} images ({done / max(total, 1):.0%}) · {rate:.2f} img/s · {eta}"


BAR = 20  # characters of the progress bar in log lines


class Phases:
    """A run's phases, named in the log as they start and timed (seconds, by key)."""

    def __init__(self, logger: logging.Logger | logging.LoggerAdapter) -> None:
        self.logger = logger
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str, key: str) -> Iterator[None]:
        self.logger.info("Phase: %s", name)
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[key] = round(time.perf_counter() - start, 3)
