from __future__ import annotations

from pathlib import Path

import pytest
from distributed.core import Status

from schemas.models import ModelRef
from tasks.engine import WarmModel, balanced_batch_size, batch_task_runner


def test_a_worker_that_cannot_load_the_model_fails_the_runner_and_closes_its_cluster(
    tiny_ref: ModelRef, model_home: Path
) -> None:
    missing = tiny_ref.model_copy(update={"path": str(model_home / "custom" / "missing.onnx")})
    runner = batch_task_runner(None, 1, warm=WarmModel(missing, str(model_home), 1))
    with pytest.raises(Exception, match="missing.onnx"):  # onnxruntime's NoSuchFile, as raised
        runner.__enter__()
    assert runner._cluster is not None and runner._cluster.status == Status.closed


@pytest.mark.parametrize(
    ("images", "workers", "size"),
    [(100, 1, 32), (100, 8, 13), (24, 2, 12), (5, 8, 1), (1000, 8, 32), (0, 4, 1)],
)
def test_batches_shrink_only_to_keep_every_worker_busy(images, workers, size) -> None:
    assert balanced_batch_size(images, 32, workers) == size
