"""A damaged catalog does not stop the business (issue 18, point 4), spooled parts, audit."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from schemas.catalog import CatalogRow
from tasks import audit, catalog
from tasks.catalog_care import check_catalog, compact_catalog
from tasks.storage import Storage


def _row(key: str, status: str, when: datetime | None = None) -> CatalogRow:
    return CatalogRow(
        run_id="r1",
        batch=0,
        source_key=key,
        source_uri=f"/in/{key}",
        status=status,
        preset="amazon-main",
        model="tiny",
        model_sha256="0" * 64,
        processed_at=when or datetime.now(UTC),
    )


def _damage(root: Path) -> tuple[Path, Path]:
    day = next(root.glob("date=*"))
    garbage = day / "part-garbage.parquet"
    garbage.write_bytes(b"this is not parquet at all")
    good = sorted(day.glob("part-r1-*.parquet"))[0]
    truncated = day / "part-truncated.parquet"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (root / "notes.txt").write_text("a stray file")
    return garbage, truncated


def test_query_skips_damaged_parts_and_names_them(tmp_path: Path) -> None:
    root = tmp_path / "catalog"
    catalog.write_catalog_part(str(root), [_row("a", "processed")], run_id="r1", batch=0)
    catalog.write_catalog_part(str(root), [_row("b", "failed")], run_id="r1", batch=1)
    garbage, truncated = _damage(root)
    opened = catalog.open_catalog(str(root))
    assert set(opened.skipped) == {str(garbage), str(truncated), str(root / "notes.txt")}
    assert "not readable as Parquet" in opened.skipped[str(garbage)]
    keys = opened.con.sql("SELECT source_key FROM images ORDER BY 1").fetchall()
    assert keys == [("a",), ("b",)]
    report = check_catalog(str(root))
    assert set(report.problems) == set(opened.skipped) and report.rows >= 2


def test_latest_supersedes_a_failed_row(tmp_path: Path) -> None:
    root = str(tmp_path / "catalog")
    catalog.write_catalog_part(root, [_row("a", "failed")], run_id="r1", batch=0)
    catalog.write_catalog_part(root, [_row("a", "processed")], run_id="r2", batch=0)
    assert catalog.query(root, "SELECT status FROM latest").to_pylist() == [{"status": "processed"}]


def test_compact_merges_parts_keeping_every_row_and_survives_a_stop(tmp_path: Path) -> None:
    root = tmp_path / "catalog"
    for batch in range(5):
        rows = [_row(f"k{batch}-{i}", "processed") for i in range(3)]
        catalog.write_catalog_part(str(root), rows, run_id="r1", batch=batch)
    garbage, _ = _damage(root)
    before = sorted(catalog.query(str(root), "SELECT source_key FROM images").to_pylist(), key=str)
    done = compact_catalog(str(root))
    assert done.merged == 5 and len(done.written) == 1 and done.rows == 15
    assert garbage.exists()  # damaged files are reported, never deleted
    parts = [p.name for p in next(root.glob("date=*")).glob("part-*.parquet")]
    assert sorted(parts) == sorted(
        [Path(done.written[0]).name, garbage.name, "part-truncated.parquet"]
    )
    after = sorted(catalog.query(str(root), "SELECT source_key FROM images").to_pylist(), key=str)
    assert after == before
    # A compaction stopped after writing its part, before deleting: readers see each row once.
    catalog.write_catalog_part(str(root), [_row("late", "processed")], run_id="r2", batch=0)
    late = next(root.glob("date=*/part-r2-*.parquet"))
    copy = late.read_bytes()
    compact_catalog(str(root))
    late.write_bytes(copy)  # as if the delete had not happened
    count = catalog.query(str(root), "SELECT count(*) AS n FROM images").to_pylist()
    assert count == [{"n": 16}]
    compact_catalog(str(root))
    assert not late.exists()


def test_an_unwritable_catalog_spools_the_part_and_the_next_run_writes_it(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the catalog's folder should be")
    url = str(blocked / "catalog")
    spool = tmp_path / "spool"
    kept = catalog.write_catalog_part(
        url, [_row("a", "processed")], run_id="r", batch=0, spool=spool
    )
    assert Path(kept).is_file() and str(spool) in kept
    blocked.unlink()
    written = catalog.flush_spool(url, spool=spool)
    assert len(written) == 1 and not Path(kept).exists()
    assert catalog.query(url, "SELECT source_key FROM images").to_pylist() == [{"source_key": "a"}]


def test_every_read_write_and_delete_is_in_the_audit_table(tmp_path: Path) -> None:
    audit.flush(str(tmp_path / "elsewhere"), None)  # earlier tests' events go elsewhere
    store = Storage(str(tmp_path / "dest"))
    store.write("x.jpg", b"123")
    store.read("x.jpg")
    store.delete("x.jpg")
    root = str(tmp_path / "catalog")
    catalog.write_catalog_part(root, [_row("a", "processed")], run_id="run-7", batch=0)
    trail = catalog.query(
        root, "SELECT action, url, bytes, run_id, principal FROM audit ORDER BY occurred_at"
    )
    rows = trail.to_pylist()
    assert [(r["action"], r["url"]) for r in rows[:3]] == [
        ("write", store.path("x.jpg")),
        ("read", store.path("x.jpg")),
        ("delete", store.path("x.jpg")),
    ]
    assert rows[3]["action"] == "write" and "part-run-7" in rows[3]["url"]
    assert {r["run_id"] for r in rows} == {"run-7"}
    assert rows[0]["principal"].endswith("@" + os.uname().nodename)
    images = catalog.query(root, "SELECT count(*) AS n FROM images").to_pylist()
    assert images == [{"n": 1}]  # the audit parts are not catalog rows


def test_on_s3_a_garbage_part_is_skipped_and_compaction_keeps_every_row(aws) -> None:
    bucket = aws.bucket("cat")
    root = f"s3://{bucket}/catalog"
    for batch in range(3):
        catalog.write_catalog_part(root, [_row(f"k{batch}", "processed")], run_id="r", batch=batch)
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    aws.s3.put_object(Bucket=bucket, Key=f"catalog/date={day}/part-junk.parquet", Body=b"junk")
    opened = catalog.open_catalog(root)
    assert [p.rsplit("/", 1)[-1] for p in opened.skipped] == ["part-junk.parquet"]
    sql = "SELECT source_key, date FROM images ORDER BY 1"
    assert [r[0] for r in opened.con.sql(sql).fetchall()] == ["k0", "k1", "k2"]
    assert compact_catalog(root).rows == 3
    assert catalog.query(root, "SELECT count(*) AS n FROM images").to_pylist() == [{"n": 3}]
    assert catalog.query(root, "SELECT count(*) > 0 AS any FROM audit").to_pylist() == [
        {"any": True}
    ]


def test_no_credential_reaches_the_audit_trail(tmp_path: Path) -> None:
    audit.flush(str(tmp_path / "elsewhere"), None)
    audit.record("read", "https://key:secret@bucket.s3.amazonaws.com/a.jpg?X-Amz-Signature=abc")
    root = str(tmp_path / "catalog")
    audit.flush(root, "r")
    urls = catalog.query(root, "SELECT url FROM audit").column("url").to_pylist()
    assert urls == ["https://bucket.s3.amazonaws.com/a.jpg"]
