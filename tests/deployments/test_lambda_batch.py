"""The Lambda handler, run in this process on a real event against moto's S3 server over HTTP."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from deployments.lambda_batch import ModelMismatch, handler
from schemas.models import ModelRef
from schemas.presets import get_preset
from schemas.run import BatchJob
from tasks import catalog
from tasks.lambda_engine import batch_event, rows_from_response
from tests.support.images import encoded, product_photo, tiny_model
from tests.support.jobs import preset_fields
from tests.support.s3 import s3  # noqa: F401 (fixture; moto_endpoint is in tests/conftest.py)

KEYS = ["raw/bag.jpg", "raw/mug one.png", "raw/readme.txt", "raw/shoe.jpg"]


@pytest.fixture
def lambda_home(tmp_path: Path, model_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The function's own model home (baked into its image), holding the same model file."""
    home = tmp_path / "opt-models"
    shutil.copytree(model_home / "custom", home / "custom")
    monkeypatch.setenv("PACKSHOT_MODEL__HOME", str(home))
    return home


@pytest.fixture
def job(s3, tiny_ref: ModelRef, model_home: Path) -> BatchJob:  # noqa: F811
    for bucket in ("shop-uploads", "shop-media"):
        s3.create_bucket(Bucket=bucket)
    bodies = {
        "raw/bag.jpg": encoded(product_photo((700, 600))),
        "raw/mug one.png": encoded(product_photo((640, 640), box=0.4), "PNG"),
        "raw/readme.txt": b"not a photo",
        "raw/shoe.jpg": encoded(product_photo((800, 560), box=0.6)),
    }
    for key, body in bodies.items():
        s3.put_object(Bucket="shop-uploads", Key=key, Body=body)
    preset = get_preset("amazon-main")
    return BatchJob(
        run_id="lambda-run",
        batch=3,
        source="s3://shop-uploads",
        source_keys=KEYS,
        destination="s3://shop-media/packshots",
        catalog="s3://shop-media/packshots/catalog",
        **preset_fields(KEYS, preset.name),
        model=tiny_ref,  # resolved on the planner's machine: its path is not the function's
        model_home=str(model_home),
        onnx_threads=4,
        max_pixels=50_000_000,
    )


def test_handler_processes_a_batch_from_s3_and_writes_its_catalog_part(
    job: BatchJob,
    lambda_home: Path,
    s3,  # noqa: F811
) -> None:
    event = json.loads(json.dumps(batch_event(job)))  # exactly what crosses the wire
    answer = handler(event, None)

    rows = rows_from_response(job, json.loads(json.dumps(answer)))
    assert [(r.source_key, r.status, r.reason) for r in rows] == [
        ("raw/bag.jpg", "processed", None),
        ("raw/mug one.png", "processed", None),
        ("raw/readme.txt", "rejected", "not_an_image"),
        ("raw/shoe.jpg", "processed", None),
    ]
    assert all(r.batch == 3 and r.run_id == "lambda-run" for r in rows)
    assert rows[0].source_uri == "s3://shop-uploads/raw/bag.jpg"
    assert rows[0].output_keys == ["s3://shop-media/packshots/amazon-main/raw/bag.jpg"]

    listed = s3.list_objects_v2(Bucket="shop-media")["Contents"]
    keys = sorted(obj["Key"] for obj in listed)
    outputs = [k for k in keys if k.startswith("packshots/amazon-main/")]
    assert outputs == [
        "packshots/amazon-main/raw/bag.jpg",
        "packshots/amazon-main/raw/mug one.jpg",
        "packshots/amazon-main/raw/shoe.jpg",
    ]
    head = s3.head_object(Bucket="shop-media", Key=outputs[0])
    assert head["ContentType"] == "image/jpeg" and head["Metadata"]["run-id"] == "lambda-run"
    parts = [k for k in keys if k.startswith("packshots/catalog/date=")]  # not the audit trail
    assert len(parts) == 1 and parts[0].endswith("part-lambda-run-00003.parquet")

    # the part the function wrote holds the same rows it answered with
    table = catalog.query(
        job.catalog, "SELECT source_key, status, model_sha256 FROM images ORDER BY source_key"
    )
    assert table.to_pylist() == [
        {"source_key": r.source_key, "status": r.status, "model_sha256": job.model.sha256}
        for r in rows
    ]


def test_handler_refuses_a_model_file_other_than_the_planned_one(
    job: BatchJob, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other-home"
    tiny_model(other / "custom" / "tiny-isnet.onnx", side=32)  # same name, different weights
    monkeypatch.setenv("PACKSHOT_MODEL__HOME", str(other))
    with pytest.raises(ModelMismatch, match="rebuild the image"):
        handler(batch_event(job), None)
