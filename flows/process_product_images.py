"""The `process-product-images` flow: originals in a bucket or folder -> packshots + catalog."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from pydantic import Field

from schemas.catalog import CatalogRow
from schemas.form import OptionalKeys, OptionalText
from schemas.models import ModelChoice
from schemas.presets import PresetName
from schemas.run import RunSummary
from schemas.settings import PackshotSettings, load_settings
from tasks.announce import announce_batch, announce_failure
from tasks.engine import (
    WarmModel,
    batch_task_runner,
    forget_result,
    lambda_task_runner,
    local_processes,
    local_workers,
)
from tasks.process import (
    check_run_quality,
    flush_audit_trail,
    new_local_run_id,
    plan_batches,
    prepare_run_destination,
    process_images,
    process_images_on_lambda,
    publish_run_report,
)
from tasks.progress import RunProgress, gather_batches
from tasks.reporting import Phases

# The main image of the biggest marketplace: what a run renders when it names no preset.
DEFAULT_PRESETS = (PresetName("amazon-main"),)


class QualityGateFailed(RuntimeError):
    """The run finished, but its Great Expectations suite failed and quality.on_failure=fail."""


@flow(name="process-product-images", log_prints=True, on_failure=[announce_failure])
def process_product_images(
    source: str,
    destination: str,
    presets: Annotated[list[PresetName], Field(min_length=1)] = DEFAULT_PRESETS,
    model: ModelChoice = "isnet-imgly",
    batch_size: Annotated[int, Field(ge=1, le=1024)] = 64,
    dask_address: OptionalText = "",
    catalog: OptionalText = "",
    keys: OptionalKeys = (),
    force: bool = False,
    engine: Literal["dask", "lambda"] = "dask",
    lambda_function: OptionalText = "",
    manifest: OptionalText = "",
) -> RunSummary:
    """Check, cut out and compose every image under `source` (or just `keys`) into every preset;
    catalog each (image, preset) pair.

    Pairs already processed for a preset and this model are skipped unless `force`, and the
    shop is notified when the batch finishes (or fails).

    Args:
        source: Folder or URL of the originals (s3://bucket/prefix/ or a path on the worker).
        destination: Folder or URL the packshots are written to, one folder per preset.
        presets: Presets to render from each photo's one mask (schemas/presets).
        model: Background-removal model (packshot models list).
        batch_size: Images per batch task.
        dask_address: Dask scheduler address (tcp://host:8786) — empty starts a local cluster.
        catalog: Catalog URL — empty writes it to the destination's catalog/ folder.
        keys: Only these keys under source (event-driven runs) — empty processes all.
        force: Process again the originals the catalog already holds as processed.
        engine: Where batches run: Dask workers, or one AWS Lambda call per batch.
        lambda_function: Lambda function name or ARN for engine=lambda — empty uses the setting.
        manifest: Product manifest (CSV, JSON or Parquet path or URL) with the ad creatives'
            title, subtitle, price, currency and badge per source key or SKU — needed by the
            ad-* presets.
    """
    settings = load_settings()
    run_id = str(flow_run.id or new_local_run_id())
    catalog = catalog or destination.rstrip("/") + "/catalog"
    address = dask_address or settings.dask.address
    names = [str(PresetName(p).value) for p in presets]
    phases = Phases(get_run_logger())
    with phases("checking the destination", "preflight_s"):
        prepare_run_destination(destination=destination, catalog=catalog, settings=settings)
    with phases("planning", "plan_s"):
        plan = plan_batches(
            run_id=run_id,
            source=source,
            destination=destination,
            catalog=catalog,
            presets=names,
            model=model,
            batch_size=batch_size,
            dask_address=address,
            settings=settings,
            keys=list(keys) if keys else None,  # defaults skip the validator: () is "all" too
            force=force,
            manifest=manifest,
        )
    jobs = plan.jobs
    with phases("processing", "run_batches_s"):
        rows, phases.seconds["batches_s"] = _run_batches(
            jobs, *_engine(engine, jobs, address, lambda_function, settings)
        )
    with phases("quality checks", "quality_s"):
        quality = check_run_quality(
            rows, settings, presets=names, run_id=run_id, destination=destination, catalog=catalog
        )
    with phases("report", "report_s"):
        summary = publish_run_report(
            run_id=run_id,
            source=source,
            destination=destination,
            catalog=catalog,
            rows=rows,
            quality_result=quality,
            settings=settings,
            plan=plan,
            presets=names,
            timings=phases.seconds,
        )
    summary.timings.update(phases.seconds)  # the report's own phase, for the caller
    if not quality.success and quality.on_failure == "fail":
        raise QualityGateFailed(", ".join(quality.failed_expectations))  # announced as failed
    announce_batch(summary=summary, rows=rows, destination=destination, settings=settings)
    flush_audit_trail(catalog=catalog, run_id=run_id, settings=settings)
    return summary


def _engine(engine: str, jobs, address, function, settings: PackshotSettings):
    """The task runner, the batch task and its extra parameters for the chosen engine."""
    if engine == "lambda":
        function = function or settings.aws_lambda.function
        if not function:
            raise ValueError("engine=lambda needs lambda_function or PACKSHOT_AWS_LAMBDA__FUNCTION")
        params = {"function": function, "max_attempts": settings.aws_lambda.max_attempts}
        return lambda_task_runner(settings.aws_lambda.concurrency), process_images_on_lambda, params
    workers = max(1, local_workers(settings.dask.n_workers, len(jobs)))
    pinned = settings.model.onnx_threads
    warm = None
    if jobs:
        warm = WarmModel(jobs[0].model, jobs[0].model_home, pinned, jobs[0].precision)
    processes = local_processes(settings.dask.processes, workers, len(jobs))
    return batch_task_runner(address, workers, warm=warm, processes=processes), process_images, {}


def _run_batches(jobs, runner, batch_task, params) -> tuple[list[CatalogRow], float]:
    """Submit every batch and gather the rows, logging progress as batches finish; the rows
    and the seconds from the first submission to the last result (cluster start excluded)."""
    logger = get_run_logger()
    total = sum(len(todo) for job in jobs for todo in job.todo)
    originals = sum(len(job.source_keys) for job in jobs)
    logger.info("%d images x presets = %d outputs in %d batches", originals, total, len(jobs))
    if not jobs:
        return [], 0.0
    logger.info("starting the cluster and loading the model")
    with runner:
        progress = RunProgress(total)
        start = time.perf_counter()
        futures = {runner.submit(batch_task, {"job": job, **params}): job.batch for job in jobs}
        # forget_result: a worker lost later costs only the batch it was running
        rows_by_batch = gather_batches(runner, futures, progress, jobs[0].run_id, forget_result)
        elapsed = time.perf_counter() - start
    return [row for batch in sorted(rows_by_batch) for row in rows_by_batch[batch]], elapsed
