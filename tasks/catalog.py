"""The Parquet catalog: write one part per batch, query every part with DuckDB.

Parts are Hive-partitioned by date (`date=YYYY-MM-DD/part-<run>-<batch>.parquet`); the `date`
column comes from the path. Each part is written whole under a temporary name and renamed, so
a reader never sees half a file. A part that cannot be written to the catalog is kept in a
local spool and written by the next run (`flush_spool`).

Readers look at every part's footer first: a file that is not Parquet or is truncated is
skipped with a reason (`Catalog.skipped`) instead of failing every query, and parts that a
compacted part says it replaces are left out (see tasks/catalog_care.py). Folders whose name
starts with `_` (the audit trail, `_audit/`) are not part of the table `images`.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import posixpath
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from schemas.catalog import CATALOG_SCHEMA, PARTITION_COLUMN, CatalogRow, rows_to_table
from schemas.settings import StorageSettings
from tasks import audit
from tasks.storage import PARTIAL_SUFFIX, SourceNotFound, Storage

TABLE = "images"
# The newest row of each (original, preset, model file): reruns, review decisions and fixes
# append rows, never rewrite parts, so an image's present state is its latest row.
LATEST = "latest"
_LATEST_SQL = f"""
CREATE VIEW {LATEST} AS SELECT * FROM {TABLE}
QUALIFY row_number() OVER (
    PARTITION BY source_uri, preset, model_sha256 ORDER BY processed_at DESC
) = 1
"""
AUDIT = "audit"
# A compacted part lists the parts it holds under this key of its Parquet metadata.
REPLACES_KEY = b"packshot.replaces"

log = logging.getLogger("packshot.catalog")


def default_spool() -> Path:
    """Where parts that could not reach their catalog wait for the next run."""
    return Path("~/.cache/packshot/spool").expanduser()


def part_key(run_id: str, batch: int, when: datetime) -> str:
    return f"{PARTITION_COLUMN}={when:%Y-%m-%d}/part-{run_id}-{batch:05d}.parquet"


def write_catalog_part(
    catalog: str,
    rows: list[CatalogRow],
    *,
    run_id: str,
    batch: int,
    write_options: StorageSettings | None = None,
    spool: Path | None = None,
) -> str:
    """Write the batch's rows as one Parquet file; returns its URL.

    When the catalog refuses the write (full, unwritable, unreachable) the part goes to the
    local spool instead, so no row is lost; returns the spooled file's path then. The audit
    events of the batch are appended beside it (never failing the batch).
    """
    buffer = io.BytesIO()
    pq.write_table(rows_to_table(rows), buffer, compression="zstd")
    key = part_key(run_id, batch, datetime.now(UTC))
    store = Storage(catalog, write_options) if write_options else Storage(catalog)
    try:
        url = store.write(key, buffer.getvalue(), content_type="application/vnd.apache.parquet")
    except Exception as exc:
        url = _spool_part(catalog, key, buffer.getvalue(), spool or default_spool())
        log.warning("catalog %s refused part %s (%s); kept at %s", catalog, key, exc, url)
    try:
        audit.flush(catalog, run_id, write_options)
    except Exception as exc:  # the events stay buffered for the next flush
        log.warning("audit trail not written to %s: %s", catalog, exc)
    return url


def _spool_folder(catalog: str, spool: Path) -> Path:
    return spool / hashlib.sha256(catalog.encode()).hexdigest()[:16]


def _spool_part(catalog: str, key: str, data: bytes, spool: Path) -> str:
    folder = _spool_folder(catalog, spool)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "catalog.txt").write_text(catalog)
    target = folder / key.replace("/", "__")
    partial = target.with_name(f"{target.name}.{uuid.uuid4().hex}{PARTIAL_SUFFIX}")
    partial.write_bytes(data)
    os.replace(partial, target)
    return str(target)


def flush_spool(catalog: str, *, spool: Path | None = None, write_options=None) -> list[str]:
    """Write the parts spooled for `catalog` by earlier runs; the keys written. A part that
    still cannot be written stays spooled (the error propagates)."""
    folder = _spool_folder(catalog, spool or default_spool())
    if not folder.is_dir():
        return []
    store = Storage(catalog, write_options) if write_options else Storage(catalog)
    written = []
    for path in sorted(folder.glob("*.parquet")):
        key = path.name.replace("__", "/")
        store.write(key, path.read_bytes(), content_type="application/vnd.apache.parquet")
        path.unlink()
        written.append(key)
    return written


@dataclass
class Catalog:
    """A DuckDB connection with the views `images`, `latest` and `audit`, and the files left
    out because they could not be read (path -> why)."""

    con: duckdb.DuckDBPyConnection
    skipped: dict[str, str] = field(default_factory=dict)


@dataclass
class _Parts:
    """The readable Parquet parts under a prefix, and what was skipped."""

    files: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    replaced: set[str] = field(default_factory=set)
    rows: dict[str, int] = field(default_factory=dict)


def scan_parts(storage: Storage, *, under: str = "", audit_trail: bool = False) -> _Parts:
    """Every readable part of the table (or of the audit trail), by footer."""
    parts = _Parts()
    try:
        listed = storage.list_objects()
    except SourceNotFound:  # no part written yet: an empty catalog
        return parts
    for info in listed:
        key = info.key
        top = key.split("/", 1)[0]
        if audit_trail != (top == audit.AUDIT_PREFIX) or (not audit_trail and top.startswith("_")):
            continue
        if under and not key.startswith(under):
            continue
        if key.endswith(PARTIAL_SUFFIX):
            continue  # a write in progress, or a dead writer's leftover (removed by runs)
        path = storage.path(key)
        if not key.endswith(".parquet"):
            parts.skipped[path] = "not a .parquet file"
            continue
        try:
            with storage.fs.open(path, "rb") as handle:
                meta = pq.read_metadata(handle)
        except Exception as exc:
            parts.skipped[path] = f"not readable as Parquet: {str(exc).splitlines()[0][:200]}"
            continue
        parts.files.append(path)
        parts.rows[path] = meta.num_rows
        replaced = (meta.metadata or {}).get(REPLACES_KEY)
        if replaced:
            parts.replaced.update(storage.path(k) for k in json.loads(replaced))
    parts.files = [f for f in parts.files if f not in parts.replaced]
    return parts


def open_catalog(catalog: str) -> Catalog:
    """The catalog's views over every readable part; unreadable files are skipped (logged)."""
    con = duckdb.connect()
    storage = Storage(catalog)
    images = scan_parts(storage)
    trail = scan_parts(storage, audit_trail=True)
    schema = CATALOG_SCHEMA.append(pa.field(PARTITION_COLUMN, pa.string()))
    _register(con, storage, TABLE, images.files, schema)
    _register(con, storage, AUDIT, trail.files, audit.AUDIT_SCHEMA.append(
        pa.field(PARTITION_COLUMN, pa.string())))  # fmt: skip
    con.execute(_LATEST_SQL)
    skipped = {**images.skipped, **trail.skipped}
    for path, why in skipped.items():
        log.warning("catalog: skipped %s: %s", path, why)
    return Catalog(con, skipped)


def _register(con, storage: Storage, name: str, files: list[str], schema: pa.Schema) -> None:
    if not files:
        con.register(name, schema.empty_table())
    elif storage.is_local:
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        con.execute(
            f"CREATE VIEW {name} AS SELECT * FROM read_parquet([{listed}], "
            "hive_partitioning = true, union_by_name = true)"
        )
    else:
        # The explicit schema reads parts written before a column existed as nulls there.
        # Scanned lazily through Arrow's own S3 client: DuckDB reads only the columns and row
        # groups a query needs (an fsspec-backed scan deadlocked against s3fs's event loop).
        dataset = ds.dataset(
            files,
            filesystem=storage.arrow_filesystem(),
            format="parquet",
            partitioning="hive",
            partition_base_dir=_base_dir(storage, name),
            schema=schema,
        )
        con.register(name, dataset)


def _base_dir(storage: Storage, name: str) -> str:
    return posixpath.join(storage.root, audit.AUDIT_PREFIX) if name == AUDIT else storage.root


def connect(catalog: str) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the catalog as the views `images`, `latest` and `audit`."""
    return open_catalog(catalog).con


def query(catalog: str, sql: str) -> pa.Table:
    """Run `sql` over the catalog (tables `images`, `latest`, `audit`) and return Arrow."""
    return connect(catalog).sql(sql).to_arrow_table()


def format_table(table: pa.Table, fmt: Literal["table", "csv", "json"]) -> str:
    """The result as an aligned text table, CSV or JSON lines."""
    frame = table.to_pandas()
    if fmt == "csv":
        return frame.to_csv(index=False)
    if fmt == "json":
        return frame.to_json(orient="records", lines=True, date_format="iso")
    return frame.to_string(index=False, max_colwidth=60) if len(frame) else "(no rows)"
