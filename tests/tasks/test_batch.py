from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from schemas.catalog import Outcome, Reason
from schemas.models import ModelRef
from schemas.presets import get_preset
from schemas.run import BatchJob
from tasks.batch import output_keys, run_batch
from tests.support.images import encoded, product_photo

FILES: dict[str, bytes | None] = {
    "shoe one.jpg": None,  # a good product photo (filled in below)
    "nested/ünïcødé+%20.png": None,
    "lying-extension.jpg": None,  # PNG bytes behind a .jpg name
    "empty.jpg": b"",
    "page.html": b"<html><body>not a photo</body></html>",
    "logo.svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    "tiny.jpg": None,
    "blank.jpg": None,
    "truncated.jpg": None,
}


def _write_inputs(root: Path) -> None:
    good = encoded(product_photo((800, 600)))
    files = dict(FILES)
    files["shoe one.jpg"] = good
    files["nested/ünïcødé+%20.png"] = encoded(product_photo((700, 700)), "PNG")
    files["lying-extension.jpg"] = encoded(product_photo((640, 640)), "PNG")
    files["tiny.jpg"] = encoded(product_photo((120, 90)))
    files["blank.jpg"] = encoded(Image.new("RGB", (800, 600), (230, 230, 230)))
    files["truncated.jpg"] = good[: len(good) // 3]
    for key, data in files.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data or b"")


@pytest.fixture
def job(tmp_path: Path, tiny_ref: ModelRef, model_home: Path) -> BatchJob:
    source = tmp_path / "in"
    _write_inputs(source)
    keys = sorted(FILES)
    preset = get_preset("amazon-main")
    return BatchJob(
        run_id="test-run",
        batch=0,
        source=str(source),
        source_keys=keys,
        output_keys=output_keys(keys, preset),
        destination=str(tmp_path / "out"),
        catalog=str(tmp_path / "out" / "catalog"),
        preset=preset.name,
        model=tiny_ref,
        model_home=str(model_home),
        onnx_threads=1,
        max_pixels=50_000_000,
    )


def test_every_input_is_accounted_for_with_the_right_outcome(job: BatchJob, tmp_path: Path) -> None:
    rows = {row.source_key: row for row in run_batch(job)}
    assert list(rows) == job.source_keys
    expected = {
        "shoe one.jpg": (Outcome.PROCESSED, None),
        "nested/ünïcødé+%20.png": (Outcome.PROCESSED, None),
        "lying-extension.jpg": (Outcome.PROCESSED, None),
        "empty.jpg": (Outcome.REJECTED, Reason.EMPTY_FILE),
        "page.html": (Outcome.REJECTED, Reason.NOT_AN_IMAGE),
        "logo.svg": (Outcome.REJECTED, Reason.UNSUPPORTED_FORMAT),
        "tiny.jpg": (Outcome.REJECTED, Reason.TOO_SMALL),
        "blank.jpg": (Outcome.REJECTED, Reason.NO_FOREGROUND),
        "truncated.jpg": (Outcome.REJECTED, Reason.CORRUPT),
    }
    assert {k: (r.status, r.reason) for k, r in rows.items()} == expected
    assert rows["lying-extension.jpg"].format == "PNG"
    processed = [r for r in rows.values() if r.status == Outcome.PROCESSED]
    for row in processed:
        (out,) = row.output_keys
        image = Image.open(out)
        assert image.size == (2000, 2000) and image.format == "JPEG"
        corners = np.asarray(image)[[0, 0, -1, -1], [0, -1, 0, -1]]
        assert (corners == 255).all()
        assert row.sha256 and row.mask_ms is not None and row.model_sha256 == job.model.sha256
    assert (tmp_path / "out/amazon-main/nested/ünïcødé+%20.jpg").is_file()
    assert all(r.detail for r in rows.values() if r.status == Outcome.REJECTED)


def test_an_unreadable_key_fails_without_sinking_the_batch(job: BatchJob) -> None:
    job = job.model_copy(
        update={
            "source_keys": ["shoe one.jpg", "vanished.jpg"],
            "output_keys": ["amazon-main/shoe one.jpg", "amazon-main/vanished.jpg"],
        }
    )
    rows = run_batch(job)
    assert [r.status for r in rows] == [Outcome.PROCESSED, Outcome.FAILED]
    assert rows[1].error and "FileNotFoundError" in rows[1].error


def test_originals_are_never_modified(job: BatchJob) -> None:
    source = Path(job.source)
    before = {p: p.read_bytes() for p in source.rglob("*") if p.is_file()}
    run_batch(job)
    after = {p: p.read_bytes() for p in source.rglob("*") if p.is_file()}
    assert before == after


def test_output_keys_stay_unique() -> None:
    preset = get_preset("transparent")
    keys = ["a/shoe.jpg", "a/shoe.png", "b/bag.jpeg"]
    assert output_keys(keys, preset) == [
        "transparent/a/shoe.jpg.png",
        "transparent/a/shoe.png.png",
        "transparent/b/bag.png",
    ]
