"""Ad creatives through the CLI: beside a packshot, from one mask, with a generated background
from the reference generator over HTTP, and the manifest's failure modes."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tasks.catalog import query as catalog_query
from tasks.creatives import disclosure
from tasks.creatives.reference_generator import ReferenceGenerator
from tests.conftest import SAMPLES
from tests.e2e.conftest import packshot

DEMO = Path(__file__).resolve().parents[2] / "deployments" / "demo" / "manifest.csv"
pytestmark = [pytest.mark.e2e, pytest.mark.model]


def test_creatives_render_beside_a_packshot_and_disclose_generated_pixels(
    real_model_home: Path, tmp_path: Path
) -> None:
    source, dest = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    shutil.copy(SAMPLES / "car.jpg", source / "car.jpg")
    shutil.copy(SAMPLES / "animal.jpg", source / "ZZ-1_unlisted.jpg")  # no manifest row
    with ReferenceGenerator() as service:
        env = os.environ | {"PACKSHOT_GENERATOR__URL": service.url}
        done = packshot(
            "process", str(source), str(dest), "--json", "--manifest", str(DEMO),
            "--preset", "amazon-main,ad-feed,ad-feed-scene", env=env,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["seen"] == 6 and summary["processed"] == 4 and summary["rejected"] == 2
    rows = catalog_query(
        str(dest / "catalog"),
        "select preset, source_key, status, reason, output_kind, manifest_sku, generated_pixels,"
        " digital_source_type, generator from images",
    ).to_pylist()
    rows = [tuple(row.values()) for row in rows]
    by = {(r[0], r[1]): r[2:] for r in rows}
    assert by[("ad-feed", "ZZ-1_unlisted.jpg")][:2] == ("rejected", "no_manifest_row")
    assert by[("amazon-main", "ZZ-1_unlisted.jpg")][0] == "processed"
    assert by[("ad-feed", "car.jpg")] == (
        "processed",
        None,
        "creative",
        "SC-0118",
        False,
        None,
        None,
    )
    scene = by[("ad-feed-scene", "car.jpg")]
    assert scene[:5] == ("processed", None, "creative", "SC-0118", True)
    assert scene[5] == disclosure.COMPOSITE_WITH_AI and scene[6] == "packshot-reference/1"
    tagged = (dest / "ad-feed-scene" / "car.jpg").read_bytes()
    assert disclosure.read_source_type(tagged) == disclosure.COMPOSITE_WITH_AI
    for plain in ("ad-feed/car.jpg", "amazon-main/car.jpg"):
        assert disclosure.read_source_type((dest / plain).read_bytes()) is None


def test_an_unusable_manifest_stops_the_run_before_it_starts(tmp_path: Path) -> None:
    bad = tmp_path / "m.csv"
    bad.write_text("sku,title,price\nA1,Lamp,10\n")
    for args in (["--manifest", str(bad)], ["--manifest", str(tmp_path / "absent.csv")], []):
        done = packshot(
            "process", str(SAMPLES), str(tmp_path / "out"), "--preset", "ad-feed", *args
        )
        assert done.returncode == 2
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "manifest" in done.stderr
    assert not (tmp_path / "out").exists()
