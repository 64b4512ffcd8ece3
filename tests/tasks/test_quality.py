from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from schemas.catalog import CatalogRow
from schemas.presets import get_preset
from tasks.quality import check_run, defer_import, near_duplicates


def _rows(statuses: list[str], *, same_sha: bool = False, out_side: int = 2000) -> list[CatalogRow]:
    return [
        CatalogRow(
            run_id="r",
            batch=i // 2,
            source_key=f"k{i}",
            source_uri=f"/k{i}",
            status=status,
            reason="too_small" if status == "rejected" else None,
            sha256="same" if same_sha else f"sha{i}",
            width=800,
            height=600,
            output_width=out_side if status == "processed" else None,
            output_height=out_side if status == "processed" else None,
            preset="amazon-main",
            model="m",
            model_sha256="0" * 64,
            processed_at=datetime.now(UTC),
        )
        for i, status in enumerate(statuses)
    ]


def _check(rows: list[CatalogRow], tmp_path: Path, share: float = 0.5):
    return check_run(
        rows,
        presets=[get_preset("amazon-main")],
        max_pixels=50_000_000,
        max_rejected_share=share,
        on_failure="warn",
        docs_dir=tmp_path,
    )


def test_a_clean_run_passes_one_checkpoint_per_batch_plus_the_run(tmp_path: Path) -> None:
    result = _check(_rows(["processed", "processed", "rejected", "processed"]), tmp_path)
    assert result.success and not result.failed_expectations
    assert result.checkpoints == 3  # batches 0 and 1, then the run
    assert result.data_docs and Path(result.data_docs).is_file()
    html = Path(result.data_docs).read_text()
    assert "packshot-amazon-main-batch" in html and "packshot-amazon-main-run" in html


# In a fresh interpreter: this session may have loaded scipy.stats already.
_DEFERRED_PROBE = """
import sys
from pathlib import Path
from tasks import quality
from tests.tasks.test_quality import _check, _rows

quality.import_great_expectations()
result = _check(_rows(["processed", "rejected"]), Path(sys.argv[1]))
ran_before_use = "scipy.stats._stats_py" in sys.modules
from scipy import stats
print(result.success, ran_before_use, round(float(stats.entropy([0.5, 0.5], [0.9, 0.1])), 3))
"""


def test_great_expectations_runs_the_suites_without_loading_scipy_stats_until_used(
    tmp_path: Path,
) -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", _DEFERRED_PROBE, str(tmp_path)],
        capture_output=True, text=True, cwd=root, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "False", "0.511"]


def test_a_module_that_is_not_installed_is_not_deferred() -> None:
    for name in ("packshot_no_such_package.stats", "json.no_such_module"):
        defer_import(name)
        assert name not in sys.modules


def test_too_many_rejections_fail_the_run_suite(tmp_path: Path) -> None:
    result = _check(_rows(["processed", "rejected", "rejected", "rejected"]), tmp_path)
    assert not result.success
    assert result.failed_expectations == ["expect_column_values_to_not_be_in_set(status)"]


def test_duplicate_photos_fail_the_run_suite(tmp_path: Path) -> None:
    result = _check(_rows(["processed", "processed"], same_sha=True), tmp_path)
    assert result.failed_expectations == ["expect_column_values_to_be_unique(sha256)"]


def test_outputs_off_the_preset_canvas_fail_the_batch_suite(tmp_path: Path) -> None:
    result = _check(_rows(["processed"], out_side=1999), tmp_path)
    assert set(result.failed_expectations) == {
        "expect_column_values_to_be_between(output_width)",
        "expect_column_values_to_be_between(output_height)",
    }


def test_near_duplicates_within_the_run_and_against_the_catalog() -> None:
    rows = _rows(["processed"] * 3)
    rows[0].phash, rows[1].phash, rows[2].phash = (
        "ffff0000ffff0000",
        "ffff0000ffff0003",
        "0123456789abcdef",
    )
    known = [
        ("old/shoe.jpg", "0123456789abcdee", "other-sha"),
        ("same.jpg", "0123456789abcdef", "sha2"),
    ]
    found = {(d.key, d.other, d.distance, d.where) for d in near_duplicates(rows, known)}
    # k0~k1 differ by 2 bits; k2 is 1 bit from an older catalog image; byte-identical rows are
    # exact duplicates (the sha256 expectation's business), not near ones
    assert found == {("k0", "k1", 2, "run"), ("k2", "old/shoe.jpg", 1, "catalog")}


def test_the_near_duplicate_index_finds_exactly_what_comparing_every_pair_finds() -> None:
    from tasks.quality import NEAR_DUPLICATE_BITS, _close_pairs

    rng = np.random.default_rng(7)
    base = rng.integers(0, 2**63, 400, dtype=np.uint64)
    flips = rng.integers(0, 64, (400, 8))
    near = [
        int(v) ^ sum(1 << int(b) for b in f[: i % 9])
        for i, (v, f) in enumerate(zip(base, flips, strict=True))
    ]
    left = [(f"l{i}", f"{v:016x}", f"ls{i}") for i, v in enumerate(base.tolist())]
    right = [(f"r{i}", f"{v:016x}", f"rs{i}") for i, v in enumerate(near)]
    right += [
        (f"x{i}", f"{int(v):016x}", f"xs{i}")
        for i, v in enumerate(rng.integers(0, 2**63, 2000, dtype=np.uint64))
    ]
    found = {
        (d.key, d.other, d.distance) for d in _close_pairs(left, right, "catalog", same_list=False)
    }
    brute = set()
    for key, lh, _ in left:
        for other, rh, _ in right:
            bits = (int(lh, 16) ^ int(rh, 16)).bit_count()
            if bits <= NEAR_DUPLICATE_BITS:
                brute.add((key, other, bits))
    assert found == brute and len(brute) >= 250  # the planted pairs up to 6 flipped bits
