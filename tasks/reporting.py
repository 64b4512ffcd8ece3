"""Run reports: counts, the summary table, the before/after contact sheet, progress lines."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable

from PIL import Image, ImageDraw, ImageFont, ImageOps

from schemas.catalog import CatalogRow, Outcome

THUMB = 256  # contact sheet cell side, px
SHEET_LIMIT = 24  # images on one contact sheet: enough to eyeball a run, small enough to open


def count_outcomes(rows: list[CatalogRow]) -> tuple[Counter[str], Counter[str]]:
    """Counts by outcome and by reason code."""
    outcomes = Counter(row.status for row in rows)
    reasons = Counter(row.reason or row.status for row in rows if row.status != Outcome.PROCESSED)
    return outcomes, reasons


def summary_table(rows: list[CatalogRow]) -> list[dict[str, object]]:
    """Rows of the run summary artifact: one per outcome and reason, with counts and shares."""
    seen = len(rows) or 1
    table = []
    for (status, reason), count in sorted(
        Counter((row.status, row.reason or row.error or "") for row in rows).items()
    ):
        table.append(
            {
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
    """A JPEG grid: each input (left) beside its output (right), or its reason when it has none."""
    shown = rows[:SHEET_LIMIT]
    columns = 2
    sheet = Image.new(
        "RGB",
        (columns * 2 * THUMB, max(1, -(-len(shown) // columns)) * (THUMB + 20)),
        (255, 255, 255),
    )
    for index, row in enumerate(shown):
        before = _safe(read_source, row.source_key)
        name = row.source_key.rsplit("/", 1)[-1]
        if row.status == Outcome.PROCESSED and row.output_keys:
            after = _thumbnail(_safe(read_output, row.output_keys[0]), "after")
        else:
            after = _thumbnail(None, f"{row.status}: {row.reason or row.error or ''}", bad=True)
        x, y = (index % columns) * 2 * THUMB, (index // columns) * (THUMB + 20)
        sheet.paste(_thumbnail(before, name), (x, y))
        sheet.paste(after, (x + THUMB, y))
    out = io.BytesIO()
    sheet.save(out, format="JPEG", quality=85)
    return out.getvalue()


def _safe(read: Callable[[str], bytes], key: str) -> bytes | None:
    try:
        return read(key)
    except Exception:  # the sheet is a convenience: a missing file leaves a blank cell
        return None


def progress_line(done: int, total: int, elapsed: float) -> str:
    """`12/40 images (30%) · 0.91 img/s · ~31 s left`."""
    rate = done / elapsed if elapsed > 0 else 0.0
    left = (total - done) / rate if rate > 0 else float("nan")
    eta = f"~{left:.0f} s left" if rate > 0 else "estimating"
    return f"{done}/{total} images ({done / max(total, 1):.0%}) · {rate:.2f} img/s · {eta}"
