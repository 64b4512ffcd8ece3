"""AWS Lambda handler: one batch of images per invocation (container image, deployments/lambda/).

The event is `tasks.lambda_engine.batch_event(job)`. The handler swaps in what only this function
knows (its model file, baked into the image under PACKSHOT_MODEL__HOME, and its vCPUs), runs the
same `process_batch` a Dask task runs (outputs + catalog part) and returns the rows.

Nothing here imports Prefect: a cold start pays for the model load, not for an orchestrator.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from schemas.models import MODELS
from schemas.run import BatchJob
from schemas.settings import load_settings
from tasks import model_store
from tasks.batch import process_batch
from tasks.lambda_engine import batch_response


class ModelMismatch(RuntimeError):
    """The function's model file is not the one the run was planned with."""


def localise(job: BatchJob, home: Path, threads: int) -> BatchJob:
    """The job with this function's model file, model home and ONNX threads.

    The planner resolved the model on its own machine; here the same model (same sha256) must
    come from the image, or the catalog would name a model that did not make the outputs.
    """
    name = job.model.name
    if name not in MODELS:  # a custom file: same place relative to the model home
        name = str(home / Path(job.model.path).relative_to(job.model_home))
    ref = model_store.resolve(name, home)
    if ref.sha256 != job.model.sha256:
        raise ModelMismatch(
            f"model {job.model.name}: this function has sha256 {ref.sha256[:12]}, "
            f"the run was planned with {job.model.sha256[:12]}; rebuild the image"
        )
    return job.model_copy(update={"model": ref, "model_home": str(home), "onnx_threads": threads})


def handler(event: dict[str, Any], context: object = None) -> dict[str, Any]:
    """Process the batch in `event` and return its catalog rows."""
    settings = load_settings()
    # One process per execution environment: all of its vCPUs go to onnxruntime.
    threads = settings.model.onnx_threads or os.cpu_count() or 1
    job = localise(BatchJob.model_validate(event["job"]), settings.model.home.expanduser(), threads)
    return batch_response(job, process_batch(job))
