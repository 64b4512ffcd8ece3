"""The product manifest: the text of every creative, from a CSV, JSON or Parquet file.

A row is found by the image's source key (column `key`, e.g. `shoes/red.jpg`) or by a SKU
(column `sku`) that a pattern finds in the image's file name (`SKU-123_front.jpg` -> `SKU-123`).
The manifest is read once, before the run starts (`load_manifest`); one that cannot be read or
makes no sense stops the run with a one-line `ManifestError`. A photo without a row gets no
creative and the reason `no_manifest_row`.
"""

from __future__ import annotations

import csv
import io
import json
import posixpath
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from schemas.creatives import DEFAULT_SKU_PATTERN
from tasks.creatives.money import PriceError, check_currency, format_price, parse_amount

TEXT_COLUMNS = ("title", "subtitle", "badge", "logo", "locale")
MAX_BYTES = 256 * 1024 * 1024  # a manifest is text for ads, not a data lake


class ManifestError(ValueError):
    """The manifest cannot be used; the message is one line naming the file and the problem."""


@dataclass(frozen=True)
class ManifestRow:
    """One product's ad text, the price already formatted."""

    sku: str | None
    key: str | None
    title: str
    subtitle: str | None = None
    price: str | None = None
    badge: str | None = None
    logo: str | None = None

    @property
    def ref(self) -> str:
        """What the catalog records in manifest_sku."""
        return self.sku or self.key or ""


@dataclass(frozen=True)
class Manifest:
    """Rows by source key and by SKU, and the pattern that finds a SKU in a file name."""

    url: str
    by_key: dict[str, ManifestRow]
    by_sku: dict[str, ManifestRow]
    sku_pattern: str = DEFAULT_SKU_PATTERN

    def __len__(self) -> int:
        return len({id(row) for row in (*self.by_key.values(), *self.by_sku.values())})

    def find(self, source_key: str) -> ManifestRow | None:
        """The row for `source_key`: by key first, then by the SKU in its file name."""
        row = self.by_key.get(source_key)
        if row is not None:
            return row
        found = re.search(self.sku_pattern, posixpath.basename(source_key))
        if found is None:
            return None
        sku = found.groupdict().get("sku") or found.group(0)
        return self.by_sku.get(sku)


def load_manifest(url: str, *, sku_pattern: str = DEFAULT_SKU_PATTERN) -> Manifest:
    """Read and check the manifest at `url` (path, file://, s3://, http(s)://...)."""
    try:
        re.compile(sku_pattern)
    except re.error as exc:
        raise ManifestError(
            f"SKU pattern {sku_pattern!r} is not a regular expression: {exc}"
        ) from None
    records = _read_records(url)
    rows = [_row(url, index, record) for index, record in enumerate(records, 2)]
    return Manifest(url, *_index(url, rows), sku_pattern=sku_pattern)


@lru_cache(maxsize=4)
def cached_manifest(url: str, sku_pattern: str = DEFAULT_SKU_PATTERN) -> Manifest:
    """`load_manifest`, once per process: every batch of a run on a worker shares it."""
    return load_manifest(url, sku_pattern=sku_pattern)


def _read_records(url: str) -> list[dict]:
    name = url.split("?", 1)[0].lower()
    try:
        with fsspec.open(url, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except (OSError, ValueError, ImportError) as exc:
        raise ManifestError(f"manifest {url}: cannot be read ({_one_line(exc)})") from None
    if len(data) > MAX_BYTES:
        raise ManifestError(f"manifest {url}: larger than {MAX_BYTES} bytes")
    try:
        if name.endswith(".parquet"):
            return pq.read_table(io.BytesIO(data)).to_pylist()
        if name.endswith(".json"):
            return _json_records(data)
        if name.endswith(".csv"):
            return _csv_records(data)
    except (pa.ArrowException, ValueError, TypeError, csv.Error) as exc:
        raise ManifestError(f"manifest {url}: not valid ({_one_line(exc)})") from None
    raise ManifestError(f"manifest {url}: name must end in .csv, .json or .parquet")


def _csv_records(data: bytes) -> list[dict]:
    """Every CSV cell as text, so `007` stays a SKU and `1299.00` keeps its cents."""
    reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig")), strict=True)
    records = list(reader)
    if not reader.fieldnames:
        raise ValueError("no header row")
    if any(None in record for record in records):
        raise ValueError("a row has more cells than the header")
    return records


def _json_records(data: bytes) -> list[dict]:
    records = json.loads(data)
    if isinstance(records, dict):
        records = records.get("products")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ValueError('expected a list of objects (or {"products": [...]})')
    return records


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _row(url: str, line: int, record: dict) -> ManifestRow:
    cells = {k.strip().lower(): _text(v) for k, v in record.items() if k}
    cells = {k: v.strip() if v and v.strip() else None for k, v in cells.items()}
    where = f"manifest {url}: row {line}"
    if not cells.get("title"):
        raise ManifestError(f"{where}: no title")
    if not (cells.get("key") or cells.get("sku")):
        raise ManifestError(f"{where}: neither key nor sku")
    try:
        price = _price(cells)
    except PriceError as exc:
        raise ManifestError(f"{where}: {exc}") from None
    texts = {name: cells.get(name) for name in TEXT_COLUMNS if name not in ("title", "locale")}
    return ManifestRow(cells.get("sku"), cells.get("key"), cells["title"], price=price, **texts)


def _price(cells: dict[str, str | None]) -> str | None:
    if not cells.get("price"):
        return None
    if not cells.get("currency"):
        raise PriceError("a price needs a currency")
    amount: Decimal = parse_amount(cells["price"] or "")
    return format_price(amount, cells["currency"] or "", cells.get("locale"))


def _index(url: str, rows: list[ManifestRow]) -> tuple[dict, dict]:
    by_key: dict[str, ManifestRow] = {}
    by_sku: dict[str, ManifestRow] = {}
    for row in rows:
        for index, name in ((by_key, row.key), (by_sku, row.sku)):
            if name is None:
                continue
            if name in index:
                raise ManifestError(f"manifest {url}: {name!r} appears twice")
            index[name] = row
    if not rows:
        raise ManifestError(f"manifest {url}: no rows")
    return by_key, by_sku


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


__all__ = ["Manifest", "ManifestError", "ManifestRow", "check_currency", "load_manifest"]
