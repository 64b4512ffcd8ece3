"""Keeping the catalog readable: `check` lists damaged files, `compact` merges small parts.

Compaction never rewrites or removes a row: it writes one part per date holding every row of
that date's parts, with their keys in its Parquet metadata (`catalog.REPLACES_KEY`), and only
then deletes them. A reader that lists both at once reads the compacted part and leaves out
the parts it replaces (tasks.catalog.scan_parts), so the table never shows a row twice or
misses one, and a compaction killed half-way is finished by the next.
"""

from __future__ import annotations

import io
import json
import posixpath
import uuid
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from tasks.catalog import REPLACES_KEY, scan_parts
from tasks.storage import Storage


@dataclass
class CheckReport:
    """What `check` found: readable parts and rows, and each problem file with its reason."""

    parts: int = 0
    rows: int = 0
    problems: dict[str, str] = field(default_factory=dict)


def check_catalog(catalog: str) -> CheckReport:
    """Read every part whole (a footer can be fine over damaged pages) and report problems."""
    storage = Storage(catalog)
    report = CheckReport()
    for audit_trail in (False, True):
        parts = scan_parts(storage, audit_trail=audit_trail)
        report.problems.update(parts.skipped)
        for path in parts.files:
            try:
                with storage.fs.open(path, "rb") as handle:
                    rows = pq.read_table(handle).num_rows
            except Exception as exc:
                report.problems[path] = f"damaged: {str(exc).splitlines()[0][:200]}"
                continue
            report.parts += 1
            report.rows += rows
    return report


@dataclass
class CompactReport:
    """Parts merged, parts written, rows carried over, and files left alone as unreadable."""

    merged: int = 0
    written: list[str] = field(default_factory=list)
    rows: int = 0
    skipped: dict[str, str] = field(default_factory=dict)


def compact_catalog(catalog: str, *, min_parts: int = 2) -> CompactReport:
    """Merge each date's parts into one (where it has at least `min_parts`)."""
    storage = Storage(catalog)
    parts = scan_parts(storage)
    report = CompactReport(skipped=dict(parts.skipped))
    _delete(storage, parts.replaced)  # left by a compaction that was stopped half-way
    by_date: dict[str, list[str]] = {}
    for path in parts.files:
        by_date.setdefault(posixpath.dirname(path), []).append(path)
    for folder, paths in sorted(by_date.items()):
        if len(paths) < min_parts:
            continue
        tables = [_read(storage, p) for p in sorted(paths)]
        merged = pa.concat_tables(tables, promote_options="default")
        keys = [posixpath.relpath(p, storage.root) for p in sorted(paths)]
        key = posixpath.join(
            posixpath.relpath(folder, storage.root), f"part-compact-{uuid.uuid4().hex}.parquet"
        )
        report.written.append(storage.write(key, _parquet(merged, keys)))
        _delete(storage, set(paths))
        report.merged += len(paths)
        report.rows += merged.num_rows
    return report


def _read(storage: Storage, path: str) -> pa.Table:
    with storage.fs.open(path, "rb") as handle:
        table = pq.read_table(handle)
    return table.replace_schema_metadata(None)


def _parquet(table: pa.Table, replaces: list[str]) -> bytes:
    meta = dict(table.schema.metadata or {})
    meta[REPLACES_KEY] = json.dumps(replaces).encode()
    buffer = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(meta), buffer, compression="zstd")
    return buffer.getvalue()


def _delete(storage: Storage, paths: set[str]) -> None:
    for path in sorted(paths):
        if storage.fs.exists(path):
            storage.delete(posixpath.relpath(path, storage.root))
