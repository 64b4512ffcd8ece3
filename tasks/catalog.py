"""The Parquet catalog: write one part per batch, query every part with DuckDB.

Parts are Hive-partitioned by date (`date=YYYY-MM-DD/part-<run>-<batch>.parquet`); the `date`
column comes from the path. Each part is written whole under a temporary name and renamed, so
a reader never sees half a file.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Literal

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from schemas.catalog import CATALOG_SCHEMA, PARTITION_COLUMN, CatalogRow, rows_to_table
from schemas.settings import StorageSettings
from tasks.storage import Storage

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


def part_key(run_id: str, batch: int, when: datetime) -> str:
    return f"{PARTITION_COLUMN}={when:%Y-%m-%d}/part-{run_id}-{batch:05d}.parquet"


def write_catalog_part(
    catalog: str,
    rows: list[CatalogRow],
    *,
    run_id: str,
    batch: int,
    write_options: StorageSettings | None = None,
) -> str:
    """Write the batch's rows as one Parquet file; returns its URL."""
    buffer = io.BytesIO()
    pq.write_table(rows_to_table(rows), buffer, compression="zstd")
    key = part_key(run_id, batch, datetime.now(UTC))
    store = Storage(catalog, write_options) if write_options else Storage(catalog)
    return store.write(key, buffer.getvalue(), content_type="application/vnd.apache.parquet")


def connect(catalog: str) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the catalog as the view `images` (empty when no part exists)
    and `latest`, the newest row of each (original, preset, model file)."""
    con = _connect_images(catalog)
    con.execute(_LATEST_SQL)
    return con


def _connect_images(catalog: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    storage = Storage(catalog)
    if storage.is_local:
        parts = f"{storage.root}/**/*.parquet"
        if storage.fs.glob(parts):
            literal = parts.replace("'", "''")
            con.execute(
                f"CREATE VIEW {TABLE} AS SELECT * FROM read_parquet('{literal}', "
                "hive_partitioning = true, union_by_name = true)"
            )
            return con
    else:
        # The explicit schema reads parts written before a column existed as nulls there.
        storage.forget_listings()  # parts written by other processes since the last look
        try:
            dataset = ds.dataset(
                storage.root,
                filesystem=storage.fs,
                format="parquet",
                partitioning="hive",
                schema=CATALOG_SCHEMA.append(pa.field(PARTITION_COLUMN, pa.string())),
            )
        except FileNotFoundError:  # no part written yet under this prefix
            dataset = None
        if dataset is not None and dataset.files:
            # Read in Python first: DuckDB scanning an fsspec-backed dataset from its own
            # threads was seen to deadlock against s3fs's event loop.
            con.register(TABLE, dataset.to_table())
            return con
    empty = CATALOG_SCHEMA.append(pa.field(PARTITION_COLUMN, pa.string()))
    con.register(TABLE, empty.empty_table())
    return con


def query(catalog: str, sql: str) -> pa.Table:
    """Run `sql` over the catalog (table `images`) and return the result as Arrow."""
    return connect(catalog).sql(sql).to_arrow_table()


def format_table(table: pa.Table, fmt: Literal["table", "csv", "json"]) -> str:
    """The result as an aligned text table, CSV or JSON lines."""
    frame = table.to_pandas()
    if fmt == "csv":
        return frame.to_csv(index=False)
    if fmt == "json":
        return frame.to_json(orient="records", lines=True, date_format="iso")
    return frame.to_string(index=False, max_colwidth=60) if len(frame) else "(no rows)"
