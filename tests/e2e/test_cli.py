"""End to end through the `packshot` command, with the real default model on real photos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.e2e.conftest import PHOTOS, PRESETS
from tests.e2e.conftest import packshot as _packshot
from tests.e2e.golden import GOLDEN, product_mask
from tests.support.images import iou

pytestmark = [pytest.mark.e2e, pytest.mark.model]


def test_the_run_exits_cleanly_with_a_json_summary(run) -> None:
    _, dest, done = run
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    counts = ("seen", "processed", "rejected", "failed", "needs_review")
    assert tuple(summary[k] for k in counts) == (12, 9, 3, 0, 0)  # 4 files x 3 presets
    assert summary["originals"] == 4 and summary["presets"] == PRESETS
    for preset in PRESETS:  # the conservation law, preset by preset
        assert summary["by_preset"][preset] == {
            "processed": 3, "rejected": 1, "failed": 0, "needs_review": 0
        }  # fmt: skip
    assert summary["catalog"] == f"{dest}/catalog"
    outputs = sorted(str(Path(p).relative_to(dest)) for p in summary["outputs"])
    assert outputs == sorted(
        f"{preset}/{Path(name).stem}.{'png' if preset == 'transparent' else 'jpg'}"
        for preset in PRESETS
        for name in PHOTOS
    )
    assert "4 images x 3 presets = 12: 9 processed, 3 rejected, 0 failed" in done.stderr
    assert summary["quality"]["success"] is True
    assert "images (" in done.stderr  # progress lines


@pytest.mark.parametrize("name", PHOTOS)
def test_outputs_are_white_squares_with_the_product_where_the_golden_mask_says(
    run, name: str, tmp_path: Path
) -> None:
    _, dest, _ = run
    path = dest / "amazon-main" / name
    image = Image.open(path)
    assert (image.format, image.size, image.mode) == ("JPEG", (2000, 2000), "RGB")
    pixels = np.asarray(image)
    edge = np.concatenate(
        [
            pixels[:40].reshape(-1, 3),
            pixels[-40:].reshape(-1, 3),
            pixels[:, :40].reshape(-1, 3),
            pixels[:, -40:].reshape(-1, 3),
        ]
    )
    assert (edge == 255).all(), "the border of an Amazon main image must be pure white"
    got = product_mask(path)
    golden = np.asarray(Image.open(GOLDEN / f"{Path(name).stem}.png")) > 127
    score = iou(got, golden)
    if score < 0.9:  # leave the evidence next to the test's tmp dir
        diff = np.stack([golden, got, np.zeros_like(got)], axis=2).astype(np.uint8) * 255
        Image.fromarray(diff).save(tmp_path / f"diff-{Path(name).stem}.png")
    assert score >= 0.9, f"IoU {score:.3f} against the golden mask; diff in {tmp_path}"


def test_catalog_rows_are_queryable_from_the_cli(run) -> None:
    source, dest, _ = run
    done = _packshot(
        "catalog",
        "query",
        "--catalog",
        f"{dest}/catalog",
        "--format",
        "json",
        "WITH per_photo AS (SELECT source_key, max(mask_ms) AS photo_mask_ms, "
        "count(mask_ms) AS masks FROM images GROUP BY source_key) "
        "SELECT source_key, status, reason, width, height, format, model, model_sha256, "
        "photo_mask_ms, masks, count(*) OVER (PARTITION BY source_key, preset) AS n "
        "FROM images JOIN per_photo USING (source_key) "
        "WHERE preset = 'shopify' ORDER BY source_key",
    )
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.strip().splitlines()]
    assert [r["source_key"] for r in rows] == ["animal.jpg", "car.jpg", "product.jpg", "readme.txt"]
    assert {r["n"] for r in rows} == {1}  # one row per (original, preset)
    assert rows[-1]["status"] == "rejected" and rows[-1]["reason"] == "not_an_image"
    for row in rows[:3]:
        assert row["status"] == "processed" and row["format"] == "JPEG"
        assert (row["width"], row["height"]) == Image.open(source / row["source_key"]).size
        assert row["model"] == "isnet-imgly"
        assert (
            row["model_sha256"]
            == "b6e8497ba978a6f5fbb647e419d2696cd80df5a23cb6a8ea532021911bd76acb"
        )
        assert row["photo_mask_ms"] > 0 and row["masks"] == 1  # one inference for three presets


def test_a_run_that_cannot_start_says_why_in_one_line(tmp_path: Path) -> None:
    done = _packshot("process", str(tmp_path / "missing"), str(tmp_path / "out"))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"packshot: source folder {tmp_path / 'missing'} does not exist"
    ]
    done = _packshot("process", str(tmp_path), str(tmp_path / "out"), "--preset", "nope")
    assert done.returncode == 2 and "unknown preset 'nope'" in done.stderr


def test_a_rerun_skips_what_the_catalog_holds_unless_forced(run) -> None:
    source, dest, _ = run
    done = _packshot("process", str(source), str(dest), "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    # the three processed photos are skipped; the rejected note is looked at again
    assert (summary["seen"], summary["processed"], summary["rejected"]) == (1, 0, 1)
    assert summary["already_processed"] == 3
    assert "3 of 4 (original, preset) pairs already processed" in done.stderr


def test_a_preset_added_to_a_processed_folder_renders_only_that_preset(run) -> None:
    source, dest, _ = run
    done = _packshot("process", str(source), str(dest), "--json", "--preset", "amazon-main,ebay")
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["by_preset"]["ebay"] == {
        "processed": 3, "rejected": 1, "failed": 0, "needs_review": 0
    }  # fmt: skip
    assert summary["by_preset"]["amazon-main"]["processed"] == 0  # nothing redone
    assert summary["already_processed"] == 3
    assert sorted(Path(p).parent.name for p in summary["outputs"]) == ["ebay"] * 3
    for name in PHOTOS:
        assert Image.open(dest / "ebay" / name).size == (1600, 1600)
