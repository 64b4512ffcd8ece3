"""Idempotency against the catalog, on a local folder (no ETags: sha256 decides)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq

from schemas.catalog import CatalogRow, rows_to_table
from schemas.models import ModelRef
from schemas.run import BatchJob
from tasks import pending
from tasks.catalog import write_catalog_part
from tasks.storage import ObjectInfo, Storage
from tests.support.jobs import preset_fields


def _row(
    src: Storage, key: str, data: bytes, *, status: str = "processed", preset: str = "amazon-main"
) -> CatalogRow:
    return CatalogRow(
        run_id="r0", batch=0, source_key=key, source_uri=src.uri(key), status=status,
        sha256=hashlib.sha256(data).hexdigest(), preset=preset, model="m", model_sha256="ms",
        processed_at=datetime.now(UTC),
    )  # fmt: skip


def test_processed_originals_are_dropped_by_url_and_sha256(tmp_path: Path) -> None:
    src = Storage(str(tmp_path / "in"))
    for key in ("same.jpg", "changed.jpg", "failed.jpg", "new.jpg"):
        src.write(key, key.encode())
    catalog = str(tmp_path / "catalog")
    rows = [
        _row(src, "same.jpg", b"same.jpg"),
        _row(src, "changed.jpg", b"the old bytes"),
        _row(src, "failed.jpg", b"failed.jpg", status="failed"),
        _row(src, "new.jpg", b"new.jpg", preset="transparent"),
    ]
    write_catalog_part(catalog, rows, run_id="r0", batch=0)

    done = pending.processed_versions(catalog, presets=["amazon-main"], model_sha256="ms")
    left = pending.drop_processed(pending.select_objects(src, None), src, done, ["amazon-main"])
    assert [p.info.key for p in left] == ["changed.jpg", "failed.jpg", "new.jpg"]
    assert pending.processed_versions(catalog, presets=["amazon-main"], model_sha256="other") == []
    assert pending.unprocessed_keys(
        str(tmp_path / "in"), destination=str(tmp_path / "out"), catalog=catalog,
        presets=["amazon-main"], model_sha256="ms",
    ) == ["changed.jpg", "failed.jpg", "new.jpg"]  # fmt: skip


def test_a_preset_added_later_is_the_only_one_left_to_do(tmp_path: Path) -> None:
    src = Storage(str(tmp_path / "in"))
    for key in ("a.jpg", "b.jpg"):
        src.write(key, key.encode())
    catalog = str(tmp_path / "catalog")
    rows = [_row(src, "a.jpg", b"a.jpg"), _row(src, "b.jpg", b"b.jpg", preset="transparent")]
    write_catalog_part(catalog, rows, run_id="r0", batch=0)
    presets = ["amazon-main", "transparent", "shopify"]
    done = pending.processed_versions(catalog, presets=presets, model_sha256="ms")
    left = pending.drop_processed(pending.select_objects(src, None), src, done, presets)
    assert [(p.info.key, p.presets) for p in left] == [
        ("a.jpg", ["transparent", "shopify"]),
        ("b.jpg", ["amazon-main", "shopify"]),
    ]


def test_etags_decide_where_the_store_has_them(tmp_path: Path) -> None:
    src = Storage(str(tmp_path))
    uri = src.uri("a.jpg")
    done = [(uri, "etag-1", "sha-of-something-else", "amazon-main")]
    objects = [ObjectInfo("a.jpg", "etag-1"), ObjectInfo("b.jpg", "etag-1")]
    main = ["amazon-main"]
    assert pending.drop_processed(objects, src, done, main) == [
        pending.Pending(ObjectInfo("b.jpg", "etag-1"), main)
    ]
    assert pending.drop_processed([ObjectInfo("a.jpg", "etag-2")], src, done, main) == [
        pending.Pending(ObjectInfo("a.jpg", "etag-2"), main)  # a new version is processed again
    ]


def test_catalog_parts_from_before_source_etag_still_count(tmp_path: Path) -> None:
    src = Storage(str(tmp_path / "in"))
    src.write("old.jpg", b"old")
    table = rows_to_table([_row(src, "old.jpg", b"old")]).drop_columns(
        ["source_etag", "source_version"]
    )
    part = tmp_path / "catalog" / "date=2026-01-01" / "part-old-00000.parquet"
    part.parent.mkdir(parents=True)
    pq.write_table(table, part)
    done = pending.processed_versions(
        str(tmp_path / "catalog"), presets=["amazon-main"], model_sha256="ms"
    )
    assert done == [(src.uri("old.jpg"), None, hashlib.sha256(b"old").hexdigest(), "amazon-main")]


def test_named_keys_keep_order_drop_repeats_and_keep_missing_ones(tmp_path: Path) -> None:
    src = Storage(str(tmp_path))
    src.write("b.jpg", b"b")
    src.write("a.jpg", b"a")
    infos = pending.select_objects(src, ["b.jpg", "gone.jpg", "b.jpg", "a.jpg"])
    assert [i.key for i in infos] == ["b.jpg", "gone.jpg", "a.jpg"]


def test_rows_get_the_planned_etag_and_version(tmp_path: Path, tiny_ref: ModelRef) -> None:
    src = Storage(str(tmp_path))
    job = BatchJob(
        run_id="r", batch=0, source=str(tmp_path), source_keys=["a", "b"],
        destination="d", catalog="c", **preset_fields(["a", "b"], "amazon-main"),
        model=tiny_ref,
        model_home="/", onnx_threads=1, max_pixels=10, source_etags=["e1", None],
        source_versions=["v1", None],
    )  # fmt: skip
    rows = pending.with_source_versions([_row(src, "b", b""), _row(src, "a", b"")], job)
    assert [(r.source_key, r.source_etag, r.source_version) for r in rows] == [
        ("b", None, None),
        ("a", "e1", "v1"),
    ]


def test_output_names_do_not_depend_on_which_keys_share_the_run(tmp_path: Path) -> None:
    from schemas.presets import get_preset

    preset = get_preset("amazon-main")
    src = Storage(str(tmp_path))
    for key in ("shelf/shoe.jpg", "shelf/shoe.png", "shelf/bag.jpg", "other/shoe.jpg"):
        src.write(key, b"x")
    # two event-driven runs, one key each: the siblings still get distinct packshots
    alone = pending.stable_output_keys(src, ["shelf/shoe.jpg"], None, preset)
    other = pending.stable_output_keys(src, ["shelf/shoe.png"], None, preset)
    assert alone == ["amazon-main/shelf/shoe.jpg.jpg"] and other == [
        "amazon-main/shelf/shoe.png.jpg"
    ]
    everything = src.list()
    assert pending.stable_output_keys(
        src, ["shelf/shoe.jpg", "shelf/bag.jpg"], everything, preset
    ) == [
        "amazon-main/shelf/shoe.jpg.jpg",
        "amazon-main/shelf/bag.jpg",
    ]
    assert pending.stable_output_keys(src, ["other/shoe.jpg"], None, preset) == [
        "amazon-main/other/shoe.jpg"
    ]
