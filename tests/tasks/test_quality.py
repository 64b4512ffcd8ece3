from __future__ import annotations

from datetime import UTC, datetime

from schemas.catalog import CatalogRow
from tasks.quality import check_run


def _rows(statuses: list[str], *, same_sha: bool = False) -> list[CatalogRow]:
    return [
        CatalogRow(
            run_id="r",
            batch=0,
            source_key=f"k{i}",
            source_uri=f"/k{i}",
            status=status,
            reason="too_small" if status == "rejected" else None,
            sha256="same" if same_sha else f"sha{i}",
            width=800,
            height=600,
            preset="amazon-main",
            model="m",
            model_sha256="0" * 64,
            processed_at=datetime.now(UTC),
        )
        for i, status in enumerate(statuses)
    ]


def _check(rows: list[CatalogRow], share: float = 0.5):
    return check_run(rows, max_pixels=50_000_000, max_rejected_share=share, on_failure="warn")


def test_a_clean_run_passes() -> None:
    result = _check(_rows(["processed", "processed", "rejected"]))
    assert result.success and not result.failed_expectations
    assert result.statistics["evaluated_expectations"] >= 10


def test_too_many_rejections_fail_the_suite() -> None:
    result = _check(_rows(["processed", "rejected", "rejected", "rejected"]), share=0.5)
    assert not result.success
    assert result.failed_expectations == ["expect_column_values_to_not_be_in_set(status)"]


def test_duplicate_photos_fail_the_suite() -> None:
    result = _check(_rows(["processed", "processed"], same_sha=True))
    assert result.failed_expectations == ["expect_column_values_to_be_unique(sha256)"]
