from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from schemas.catalog import CatalogRow
from tasks import catalog


def _row(key: str, status: str, reason: str | None = None) -> CatalogRow:
    return CatalogRow(
        run_id="r1",
        batch=0,
        source_key=key,
        source_uri=f"/in/{key}",
        status=status,
        reason=reason,
        preset="amazon-main",
        model="tiny",
        model_sha256="0" * 64,
        processed_at=datetime.now(UTC),
        sha256=key * 2,
    )


def test_parts_are_partitioned_by_date_and_queryable(tmp_path: Path) -> None:
    root = str(tmp_path / "catalog")
    catalog.write_catalog_part(
        root, [_row("a", "processed"), _row("b", "rejected", "too_small")], run_id="r1", batch=0
    )
    catalog.write_catalog_part(root, [_row("c", "failed")], run_id="r1", batch=1)
    parts = sorted(
        p.relative_to(tmp_path / "catalog").as_posix()
        for p in (tmp_path / "catalog").rglob("*")
        if not p.relative_to(tmp_path / "catalog").as_posix().startswith("_audit")  # the trail
    )
    today = datetime.now(UTC).date()
    assert parts == [
        f"date={today}",
        f"date={today}/part-r1-00000.parquet",
        f"date={today}/part-r1-00001.parquet",
    ]
    result = catalog.query(
        root,
        "SELECT status, count(*) AS n, min(date) AS day FROM images "
        "GROUP BY status ORDER BY status",
    ).to_pylist()
    assert result == [
        {"status": "failed", "n": 1, "day": today},
        {"status": "processed", "n": 1, "day": today},
        {"status": "rejected", "n": 1, "day": today},
    ]


def test_an_empty_catalog_answers_with_no_rows(tmp_path: Path) -> None:
    assert catalog.query(
        str(tmp_path / "none"), "SELECT count(*) AS n FROM images"
    ).to_pylist() == [{"n": 0}]


def test_formats(tmp_path: Path) -> None:
    root = str(tmp_path)
    catalog.write_catalog_part(root, [_row("a", "processed")], run_id="r", batch=0)
    table = catalog.query(root, "SELECT source_key, status FROM images")
    assert catalog.format_table(table, "csv").splitlines() == ["source_key,status", "a,processed"]
    assert catalog.format_table(table, "json").strip() == '{"source_key":"a","status":"processed"}'
    assert "processed" in catalog.format_table(table, "table")
