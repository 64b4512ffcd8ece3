from __future__ import annotations

import json
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

from flows.process_product_images import process_product_images
from schemas.run import RunSummary
from tasks import catalog
from tests.support.images import encoded, product_photo


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    root = tmp_path / "in"
    (root / "shelf").mkdir(parents=True)
    for index in range(5):
        photo = product_photo((700 + 10 * index, 560))  # distinct photos: duplicates fail the suite
        (root / "shelf" / f"item {index}.jpg").write_bytes(encoded(photo))
    (root / "notes.txt").write_text("not a photo")
    (root / "small.png").write_bytes(encoded(product_photo((100, 80)), "PNG"))
    return root


def test_flow_processes_batches_on_dask_and_records_everything(
    prefect_harness, inputs: Path, tmp_path: Path, model_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PACKSHOT_MODEL__HOME", str(model_home))
    dest = tmp_path / "out"
    state = process_product_images(
        source=str(inputs),
        destination=str(dest),
        presets=["amazon-main"],
        model=str(model_home / "custom" / "tiny-isnet.onnx"),
        batch_size=3,
        return_state=True,
    )
    assert state.is_completed(), state.message
    summary: RunSummary = state.result()
    assert (summary.seen, summary.processed, summary.rejected, summary.failed) == (7, 5, 2, 0)
    assert summary.reasons == {"not_an_image": 1, "too_small": 1}
    assert summary.quality is not None and summary.quality.success
    assert len(summary.outputs) == 5 and all(Path(p).is_file() for p in summary.outputs)

    # one catalog part per batch (7 images / 3 per batch), every input a row
    parts = sorted((dest / "catalog").glob("date=*/*.parquet"))  # not the audit trail
    assert len(parts) == 3
    rows = catalog.query(
        str(dest / "catalog"),
        "SELECT run_id, status, count(*) AS n FROM images GROUP BY ALL ORDER BY status",
    ).to_pylist()
    assert rows == [
        {"run_id": summary.run_id, "status": "processed", "n": 5},
        {"run_id": summary.run_id, "status": "rejected", "n": 2},
    ]
    report = json.loads(Path(summary.report).read_text())
    assert report["seen"] == 7 and Path(summary.contact_sheet).stat().st_size > 10_000

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])
            )
        )
    assert {a.key for a in artifacts} == {
        "run-summary",
        "contact-sheet",
        "data-docs",
        "quality",
        "run-images",
        "before-after",
        "progress",
    }
    progress = next(a for a in artifacts if a.key == "progress")
    assert progress.data == 100.0  # every (original, preset) pair finished
    images = next(a for a in artifacts if a.key == "run-images")
    # a before for each of the 6 images (the 7th file is not one), an after for the 5 processed
    assert str(images.data).count("data:image/jpeg") == 6 + 5
    assert Path(summary.quality.data_docs).is_file() and summary.quality.checkpoints == 4
    table = next(a for a in artifacts if a.key == "run-summary")
    assert "not_an_image" in str(table.data)


def test_quality_gate_in_fail_mode_fails_the_run(
    prefect_harness, tmp_path: Path, model_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PACKSHOT_MODEL__HOME", str(model_home))
    monkeypatch.setenv("PACKSHOT_QUALITY__ON_FAILURE", "fail")
    monkeypatch.setenv("PACKSHOT_QUALITY__MAX_REJECTED_SHARE", "0.2")
    root = tmp_path / "in"
    root.mkdir()
    (root / "good.jpg").write_bytes(encoded(product_photo((700, 560))))
    (root / "bad1.jpg").write_bytes(b"")
    (root / "bad2.jpg").write_bytes(b"")
    state = process_product_images(
        source=str(root),
        destination=str(tmp_path / "out"),
        model=str(model_home / "custom" / "tiny-isnet.onnx"),
        return_state=True,
    )
    assert state.is_failed()
    assert (
        "expect_column_values_to_not_be_in_set(status)" in state.message
        or "not_be_in_set" in str(state.result(raise_on_failure=False))
    )
    # the rows are still in the catalog: a failed gate never loses the record
    assert catalog.query(
        str(tmp_path / "out" / "catalog"), "SELECT count(*) AS n FROM images"
    ).to_pylist() == [{"n": 3}]


@pytest.mark.parametrize(("workers", "sizes"), [(1, [7]), (3, [3, 3, 1]), (16, [1] * 7)])
def test_a_small_run_is_cut_so_every_local_worker_gets_a_batch(
    inputs: Path, tmp_path: Path, model_home: Path, workers: int, sizes: list[int]
) -> None:
    from schemas.settings import PackshotSettings
    from tasks.process import plan_batches

    settings = PackshotSettings(model={"home": model_home}, dask={"n_workers": workers})
    jobs = plan_batches.fn(
        run_id="r",
        source=str(inputs),
        destination=str(tmp_path / "out"),
        catalog=str(tmp_path / "out" / "catalog"),
        presets=["amazon-main"],
        model=str(model_home / "custom" / "tiny-isnet.onnx"),
        batch_size=32,
        dask_address=None,
        settings=settings,
        force=True,
    ).jobs
    assert [len(job.source_keys) for job in jobs] == sizes
    assert sorted(key for job in jobs for key in job.source_keys) == sorted(
        str(p.relative_to(inputs)) for p in inputs.rglob("*") if p.is_file()
    )


def test_progress_moves_image_by_image_inside_a_batch(
    prefect_harness, inputs: Path, tmp_path: Path, model_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tasks.progress import RunProgress

    seen: list[int] = []
    advance = RunProgress.advance

    def record(self, finished: int) -> None:
        advance(self, finished)
        seen.append(self.done)

    monkeypatch.setattr(RunProgress, "advance", record)
    monkeypatch.setenv("PACKSHOT_MODEL__HOME", str(model_home))
    state = process_product_images(
        source=str(inputs),
        destination=str(tmp_path / "out"),
        model=str(model_home / "custom" / "tiny-isnet.onnx"),
        batch_size=64,  # one batch: without per-image messages progress would jump 0 -> 7
        return_state=True,
    )
    assert state.is_completed(), state.message
    assert seen[-1] == 7
    assert len({done for done in seen if 0 < done < 7}) >= 3, seen
