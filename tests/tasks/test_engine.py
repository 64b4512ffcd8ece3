from __future__ import annotations

from pathlib import Path

import pytest
from distributed.core import Status

from schemas.models import ModelRef
from tasks.engine import WarmModel, batch_task_runner


def test_a_worker_that_cannot_load_the_model_fails_the_runner_and_closes_its_cluster(
    tiny_ref: ModelRef, model_home: Path
) -> None:
    missing = tiny_ref.model_copy(update={"path": str(model_home / "custom" / "missing.onnx")})
    runner = batch_task_runner(None, 1, warm=WarmModel(missing, str(model_home), 1))
    with pytest.raises(Exception, match="missing.onnx"):  # onnxruntime's NoSuchFile, as raised
        runner.__enter__()
    assert runner._cluster is not None and runner._cluster.status == Status.closed
