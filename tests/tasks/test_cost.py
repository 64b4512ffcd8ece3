from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from deployments.cli import main
from schemas.catalog import CatalogRow
from schemas.cost import PRICING_FILE, load_pricing
from tasks import catalog
from tasks.cost import estimate, image_seconds

# one processed image whose slowest stage is the mask (1.0 s), one rejected after inspect
ROWS = [
    {"status": "processed", "read_ms": 20, "inspect_ms": 80, "mask_ms": 1000, "compose_ms": 300},
    {"status": "rejected", "read_ms": 10, "inspect_ms": 190},
]


def test_image_seconds_is_the_slowest_pipeline_stage() -> None:
    assert image_seconds(ROWS[0]) == 1.0
    assert image_seconds({"read_ms": 700, "inspect_ms": 50, "mask_ms": 400}) == 0.75
    assert image_seconds({"compose_ms": 900, "write_ms": 300, "mask_ms": None}) == 1.2
    assert image_seconds({"status": "failed"}) == 0.0


def test_estimate_per_engine_from_the_pricing_table(tmp_path: Path) -> None:
    override = tmp_path / "prices.json"
    override.write_text(
        json.dumps(
            {
                "as_of": "2026-11-01",
                "lambda": {"memory_mb": 3538, "mb_per_vcpu": 1769, "invocation_overhead_s": 0},
                "fargate": {"vcpus": 2, "memory_gb": 4, "utilisation": 1.0},
                "local": {"cores": 4, "watts": 100, "kwh": 0.5, "hardware_hour": 0.1},
                "s3": {"applies_to": []},
            }
        )
    )
    pricing = load_pricing(override)
    assert pricing.lambda_.gb_second["x86_64"] == 0.0000166667  # untouched fields stay
    result = estimate(ROWS, pricing, model="isnet-imgly", measured_vcpus=2)
    assert result is not None
    # mean of 1.0 s and 0.2 s on 2 vCPUs = 1.2 vCPU-seconds per image
    assert (result.seconds_per_image, result.vcpu_seconds_per_image) == (0.6, 1.2)
    costs = {c.engine: c for c in result.engines}
    # Lambda: 2 vCPU -> 0.6 s per image; 1000 images x 0.6 s x 3538/1024 GB x price
    compute = 1000 * 0.6 * 3538 / 1024 * 0.0000166667
    assert costs["lambda"].compute_per_1000 == pytest.approx(compute, rel=1e-4)
    assert costs["lambda"].requests_per_1000 == pytest.approx(125 * 0.20 / 1e6)
    # Fargate: 2 vCPU -> 600 s per 1000 = 1/6 h at 2 x vCPU-hour + 4 x GB-hour
    hourly = 2 * 0.04048 + 4 * 0.004445
    assert costs["fargate"].per_1000 == pytest.approx(hourly / 6, rel=1e-4)
    # local: 4 cores -> 300 s = 1/12 h at 0.1 kW x 0.5 + 0.1 per hour
    assert costs["local"].per_1000 == pytest.approx((0.1 * 0.5 + 0.1) / 12, rel=1e-4)
    assert result.pricing_as_of == "2026-11-01"


def test_s3_requests_count_gets_outputs_and_catalog_parts() -> None:
    pricing = load_pricing()
    result = estimate(ROWS, pricing, model="m")
    assert result is not None
    costs = {c.engine: c for c in result.engines}
    # 1000 GETs, 500 output PUTs (half processed) + 125 catalog parts (8 per batch)
    s3 = pricing.s3.get_per_1000 + 0.625 * pricing.s3.put_per_1000
    lam = 125 * pricing.lambda_.per_million_requests / 1e6
    assert costs["fargate"].requests_per_1000 == pytest.approx(s3)
    assert costs["lambda"].requests_per_1000 == pytest.approx(s3 + lam)
    assert costs["local"].requests_per_1000 == 0  # the table applies S3 fees to AWS engines only
    assert estimate([], pricing, model="m") is None


def test_the_bundled_pricing_table_is_dated_and_sourced() -> None:
    table = json.loads(PRICING_FILE.read_text())
    assert date.fromisoformat(table["as_of"]) <= date.today()
    for section in ("lambda", "fargate", "s3"):
        assert table[section]["source"].startswith("https://aws.amazon.com/")


def test_packshot_cost_reads_the_catalog_for_one_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = {
        "run_id": "r1",
        "source_uri": "x",
        "preset": "amazon-main",
        "model_sha256": "0" * 64,
        "processed_at": datetime.now(UTC),
    }
    rows = [
        CatalogRow(**base, batch=0, source_key=f"{i}.jpg", model="isnet-imgly", **ROWS[i % 2])  # type: ignore[arg-type]
        for i in range(4)
    ] + [
        CatalogRow(
            **base,
            batch=1,
            source_key="slow.jpg",
            model="u2net",
            status="processed",
            mask_ms=9000,
        )
    ]
    store = str(tmp_path / "catalog")
    catalog.write_catalog_part(store, rows[:4], run_id="r1", batch=0)
    catalog.write_catalog_part(store, rows[4:], run_id="r1", batch=1)

    with pytest.raises(SystemExit) as exit_info:
        main(["cost", "--catalog", store, "--model", "isnet-imgly", "--json"])
    assert exit_info.value.code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["model"] == "isnet-imgly" and result["images"] == 4
    assert result["seconds_per_image"] == 0.6  # u2net's 9 s row is not in it
    assert [e["engine"] for e in result["engines"]] == ["lambda", "fargate", "local"]

    with pytest.raises(SystemExit) as exit_info:
        main(["cost", "--catalog", store, "--model", "birefnet-general"])
    assert exit_info.value.code == 2
    assert "no rows for model 'birefnet-general'" in capsys.readouterr().err
