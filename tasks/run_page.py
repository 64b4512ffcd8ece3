"""What a run shows on its Prefect page: thumbnails, the per-image table, links that open.

Prefect-free: the task that publishes the artifacts passes the readers and the `Linker`. The
UI renders markdown with images embedded as small `data:` JPEGs, so a seller sees each photo
and its packshot without leaving the page, whatever the destination.
"""

from __future__ import annotations

import base64
import io
import os
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

from schemas.catalog import CatalogRow, Outcome

THUMB_SIDE = 112  # px: a row of the table stays one line high on a laptop screen
SHEET_WIDTH = 900  # px of the embedded contact sheet: readable, about 100 KB
IMAGES_SHOWN = 24  # originals with thumbnails; the table lists every row
ROWS_LISTED = 500  # table rows (one per original and preset) before "and N more"
Reader = Callable[[str], bytes]


@dataclass(frozen=True)
class Linker:
    """Browser links for output paths: local files under `files_root` through the stack's
    file server, S3 objects presigned by `sign`; anything else has no link."""

    files_root: Path | None = None
    files_url: str | None = None
    sign: Callable[[str], str] | None = None

    def __call__(self, path: str | None) -> str | None:
        if not path:
            return None
        if "://" in path and not path.startswith("file://"):
            return self._signed(path)
        local = Path(path.removeprefix("file://")).resolve()
        if self.files_root is None or not self.files_url:
            return None
        try:
            relative = local.relative_to(self.files_root.resolve())
        except ValueError:
            return None
        return f"{self.files_url}/{urllib.parse.quote(relative.as_posix())}"

    def _signed(self, url: str) -> str | None:
        try:
            return self.sign(url) if self.sign else None
        except Exception:  # no credentials to sign with: the table shows the URL as text
            return None


def data_uri(
    data: bytes | None, side: int = THUMB_SIDE, quality: int = 75, *, tall: int = 1
) -> str | None:
    """A small JPEG of an image file as a `data:` URI (at most `side` wide and `tall` x `side`
    high), or None when it cannot be read."""
    if not data:
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (side, side))
            thumb = ImageOps.exif_transpose(image).convert("RGBA")
    except Exception:  # a file that cannot be shown is still listed, by its key
        return None
    thumb.thumbnail((side, side * tall))
    flat = Image.new("RGB", thumb.size, (255, 255, 255))
    flat.paste(thumb, (0, 0), thumb)
    out = io.BytesIO()
    flat.save(out, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode()


def nothing_to_do(seen: int, already_processed: int) -> str | None:
    """The line a run that made nothing shows, so a no-op reads differently from a failure."""
    if seen:
        return None
    return f"nothing to do: {already_processed} already processed"


def images_markdown(
    rows: list[CatalogRow],
    *,
    read_source: Reader,
    read_output: Reader,
    link: Linker,
    headline: str,
) -> str:
    """The run's images: per original and preset, before and after side by side, with its
    outcome, reason, warnings, confidence and a link to the output."""
    lines = [f"### {headline}", ""]
    if not rows:
        return "\n".join(lines)
    lines += [
        "| before | after | key | preset | status | output | reason | warnings | confidence |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    befores: dict[str, str] = {}
    shown = list(dict.fromkeys(row.source_key for row in rows))[:IMAGES_SHOWN]
    for row in rows[:ROWS_LISTED]:
        thumbs = row.source_key in shown
        if thumbs and row.source_key not in befores:
            befores[row.source_key] = _img(_safe(read_source, row.source_key), row.source_key)
        before = befores.get(row.source_key, "") if thumbs else ""
        output = row.output_keys[0] if row.output_keys else None
        after = _img(_safe(read_output, output), row.preset) if thumbs and output else ""
        lines.append(_table_line(row, before, after, output, link))
    if len(rows) > ROWS_LISTED:
        lines.append(f"\n… and {len(rows) - ROWS_LISTED} more rows in the catalog.")
    return "\n".join(lines) + "\n"


def _table_line(row: CatalogRow, before: str, after: str, output: str | None, link) -> str:
    status = f"**{row.status}**" if row.status != Outcome.PROCESSED else row.status
    reason = row.reason or (row.error or "")[:80]
    confidence = f"{row.confidence:.2f}" if row.confidence is not None else ""
    cells = [
        before,
        after,
        f"`{row.source_key}`",
        row.preset,
        status,
        _link(output, link),
        reason,
        ", ".join(row.warnings),
        confidence,
    ]
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _link(path: str | None, link: Linker) -> str:
    if not path:
        return ""
    url = link(path)
    name = os.path.basename(path.rstrip("/"))
    return f"[{name}]({url})" if url else f"`{name}`"


def _img(data: bytes | None, alt: str) -> str:
    uri = data_uri(data)
    return f"![{os.path.basename(alt)}]({uri})" if uri else ""


def sheet_markdown(sheet: bytes, sheet_link: str | None, data_docs_link: str | None) -> str:
    """The before/after contact sheet, embedded, with links to it and to the Data Docs."""
    lines = ["### Before / after", ""]
    uri = data_uri(sheet, side=SHEET_WIDTH, quality=80, tall=8)
    if uri:
        lines.append(f"![contact sheet]({uri})")
    links = []
    if sheet_link:
        links.append(f"[full-size contact sheet]({sheet_link})")
    if data_docs_link:
        links.append(f"[Great Expectations Data Docs]({data_docs_link})")
    return "\n".join(lines + ["", " · ".join(links)]) + "\n"


def _safe(read: Reader, key: str | None) -> bytes | None:
    if not key:
        return None
    try:
        return read(key)
    except Exception:  # a missing file leaves its cell empty; the table still lists it
        return None
