"""Prefect tasks of the `process-product-images` flow: thin wrappers over the pure modules."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from schemas.catalog import CatalogRow, Outcome
from schemas.presets import get_preset
from schemas.run import BatchJob, QualityResult, RunSummary
from schemas.settings import PackshotSettings
from tasks import model_store, pending, quality, reporting
from tasks.batch import output_keys, process_batch
from tasks.engine import local_workers, onnx_threads
from tasks.storage import Storage, relative_prefix

REPORT_PREFIX = "_packshot/runs"


@task(cache_policy=NO_CACHE)
def plan_batches(
    *,
    run_id: str,
    source: str,
    destination: str,
    catalog: str,
    preset: str,
    model: str,
    batch_size: int,
    dask_address: str | None,
    settings: PackshotSettings,
    keys: list[str] | None = None,
    force: bool = False,
) -> list[BatchJob]:
    """List the source's files (or take `keys`) and cut them into batch jobs.

    The destination and catalog are skipped when nested in the source. Unless `force`, an
    original the catalog already holds as processed for this preset and model (same URL and
    ETag, or same sha256) is left out, so a rerun or a repeated event is a no-op.
    """
    spec = get_preset(preset)
    home = settings.model.home.expanduser()
    ref = model_store.resolve(model, home)
    src = Storage(source)
    skip = tuple(
        p
        for p in (
            relative_prefix(src, Storage(destination)),
            relative_prefix(src, Storage(catalog)),
        )
        if p
    )
    objects = pending.select_objects(src, keys, skip_prefixes=skip)
    if not force:
        done = pending.processed_versions(catalog, preset=preset, model_sha256=ref.sha256)
        seen, objects = len(objects), pending.drop_processed(objects, src, done)
        get_run_logger().info("%d of %d originals already processed", seen - len(objects), seen)
    keys = [info.key for info in objects]
    outputs = output_keys(keys, spec)
    workers = 1 if dask_address else local_workers(settings.dask.n_workers)
    threads = onnx_threads(settings.model.onnx_threads, workers)
    return [
        BatchJob(
            run_id=run_id,
            batch=index // batch_size,
            source=source,
            source_keys=keys[index : index + batch_size],
            output_keys=outputs[index : index + batch_size],
            destination=destination,
            catalog=catalog,
            preset=preset,
            model=ref,
            model_home=str(home),
            onnx_threads=threads,
            max_pixels=settings.quality.max_pixels,
            write_options=settings.storage,
            source_etags=[info.etag for info in objects[index : index + batch_size]],
            source_versions=[info.version for info in objects[index : index + batch_size]],
        )
        for index in range(0, len(keys), batch_size)
    ]


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def process_images(job: BatchJob) -> list[CatalogRow]:
    """Process one batch of images and write its catalog part; one row per image."""
    return process_batch(job)


@task(cache_policy=NO_CACHE)
def check_run_quality(rows: list[CatalogRow], settings: PackshotSettings) -> QualityResult:
    """Run the Great Expectations suite over the run's rows and log its verdict."""
    result = quality.check_run(
        rows,
        max_pixels=settings.quality.max_pixels,
        max_rejected_share=settings.quality.max_rejected_share,
        on_failure=settings.quality.on_failure,
    )
    logger = get_run_logger()
    if result.success:
        logger.info(
            "Quality suite passed (%d expectations)",
            int(result.statistics.get("evaluated_expectations", 0)),
        )
    else:
        logger.warning("Quality suite failed: %s", ", ".join(result.failed_expectations))
    return result


@task(cache_policy=NO_CACHE)
def publish_run_report(
    *,
    run_id: str,
    source: str,
    destination: str,
    catalog: str,
    rows: list[CatalogRow],
    quality_result: QualityResult,
) -> RunSummary:
    """Write the contact sheet and JSON report, and publish both as Prefect artifacts."""
    src, dest = Storage(source), Storage(destination)
    outcomes, reasons = reporting.count_outcomes(rows)
    sheet = reporting.contact_sheet(rows, src.read, dest.fs.cat_file)
    sheet_url = dest.write(
        f"{REPORT_PREFIX}/{run_id}/contact-sheet.jpg", sheet, content_type="image/jpeg"
    )
    summary = RunSummary(
        run_id=run_id,
        seen=len(rows),
        processed=outcomes[Outcome.PROCESSED],
        rejected=outcomes[Outcome.REJECTED],
        failed=outcomes[Outcome.FAILED],
        reasons=dict(reasons),
        catalog=catalog,
        outputs=[key for row in rows for key in row.output_keys],
        quality=quality_result,
        contact_sheet=sheet_url,
    )
    report_key = f"{REPORT_PREFIX}/{run_id}/report.json"
    summary.report = dest.uri(report_key)
    dest.write(
        report_key, summary.model_dump_json(indent=2).encode(), content_type="application/json"
    )
    _artifacts(summary, rows, sheet_url)
    return summary


def _artifacts(summary: RunSummary, rows: list[CatalogRow], sheet_url: str) -> None:
    key = "run-summary"
    create_table_artifact(
        key=key,
        table=reporting.summary_table(rows),
        description=f"{summary.seen} images: {summary.processed} processed, "
        f"{summary.rejected} rejected, {summary.failed} failed",
    )
    link = sheet_url if "://" in sheet_url else Path(sheet_url).as_uri()
    create_link_artifact(
        key="contact-sheet",
        link=link,
        link_text="Before/after contact sheet",
        description="Each input beside its output, or its rejection reason.",
    )
    verdict = "passed" if summary.quality and summary.quality.success else "FAILED"
    failed = summary.quality.failed_expectations if summary.quality else []
    create_markdown_artifact(
        key="quality",
        markdown=f"### Quality suite {verdict}\n\n"
        + "".join(f"- `{name}`\n" for name in failed)
        + f"\nReport: `{summary.report}`\n",
        description="Great Expectations verdict on this run's catalog rows",
    )


def new_local_run_id() -> str:
    """A run id for work done outside a flow run (tests, handlers)."""
    return uuid.uuid4().hex


def dumps(summary: RunSummary) -> str:
    return json.dumps(summary.model_dump(mode="json"))
