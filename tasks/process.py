"""Prefect tasks of the `process-product-images` flow: thin wrappers over the pure modules."""

from __future__ import annotations

import json
import mimetypes
import tempfile
import uuid
from pathlib import Path

import duckdb
from prefect import get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from schemas.catalog import CatalogRow, Outcome
from schemas.cost import CostEstimate, load_pricing
from schemas.creatives import DEFAULT_SKU_PATTERN
from schemas.presets import get_preset
from schemas.run import BatchJob, Plan, QualityResult, RunSummary
from schemas.settings import PackshotSettings
from tasks import (
    audit,
    lambda_engine,
    leases,
    model_store,
    pending,
    preflight,
    quality,
    reporting,
    run_page,
)
from tasks import catalog as catalog_io
from tasks import cost as cost_model
from tasks.batch import process_batch
from tasks.creatives.manifest import load_manifest
from tasks.engine import balanced_batch_size, local_workers, onnx_threads
from tasks.imaging.recipe import scene_reader, validate_presets
from tasks.progress import image_publisher
from tasks.storage import Storage

REPORT_PREFIX = "_packshot/runs"


@task(cache_policy=NO_CACHE)
def prepare_run_destination(*, destination: str, catalog: str, settings: PackshotSettings) -> None:
    """Probe the destination and catalog before the model runs (one-line StorageError when a
    write would fail), remove dead writers' temporary files, write spooled catalog parts."""
    done = preflight.prepare_destination(destination, catalog, settings.storage)
    if done.spooled_parts:
        get_run_logger().info(
            "wrote %d catalog part(s) an earlier run spooled", len(done.spooled_parts)
        )


@task(cache_policy=NO_CACHE)
def flush_audit_trail(*, catalog: str, run_id: str, settings: PackshotSettings) -> str | None:
    """Append what this process read, wrote and deleted to the audit table."""
    return audit.flush(catalog, run_id, settings.storage)


@task(cache_policy=NO_CACHE)
def plan_batches(
    *,
    run_id: str,
    source: str,
    destination: str,
    catalog: str,
    presets: list[str],
    model: str,
    batch_size: int,
    dask_address: str | None,
    settings: PackshotSettings,
    keys: list[str] | None = None,
    force: bool = False,
    manifest: str | None = None,
    sku_pattern: str = DEFAULT_SKU_PATTERN,
) -> Plan:
    """List the source's files (or take `keys`) and cut them into batch jobs.

    The destination and catalog are skipped when nested in the source. Unless `force`, each
    (original, preset) pair the catalog already holds as processed for this model (same URL
    and ETag, or same sha256) is left out, so a rerun or a repeated event is a no-op and a
    preset added to a processed bucket renders only that preset.
    """
    specs = [get_preset(name) for name in presets]
    if manifest:  # read once here: one that cannot be used stops the run before any batch
        load_manifest(manifest, sku_pattern=sku_pattern)
    # a missing or unusable scene: one line, before any batch
    validate_presets(specs, scene_reader(settings.scenes))
    home = settings.model.home.expanduser()
    ref = model_store.resolve(model, home)
    src = Storage(source)
    skip = pending.nested_prefixes(src, destination, catalog)
    objects = pending.select_objects(src, keys, skip_prefixes=skip)
    listed = [info.key for info in objects] if keys is None else None
    todo = [pending.Pending(info, list(presets)) for info in objects]
    pairs = len(objects) * len(presets)
    if not force:
        done = pending.processed_versions(catalog, presets=presets, model_sha256=ref.sha256)
        todo = pending.drop_processed(objects, src, done, presets)
    skipped = pairs - sum(len(p.presets) for p in todo)
    dest = Storage(destination, settings.storage)
    if not force:
        get_run_logger().info("%d of %d (original, preset) pairs already processed", skipped, pairs)
        left = {(p.info.key, preset) for p in todo for preset in p.presets}
        finished = [(o.key, p) for o in objects for p in presets if (o.key, p) not in left]
        leases.clear_finished(dest, src, finished, ref.sha256)
    todo = leases.claim_pending(  # a concurrent run over the same destination keeps its pairs
        todo,
        src,
        dest,
        catalog=catalog,
        presets=presets,
        model_sha256=ref.sha256,
        run_id=run_id,
        recheck=not force,
    )
    keys = [p.info.key for p in todo]
    outputs = {spec.name: pending.stable_output_keys(src, keys, listed, spec) for spec in specs}
    # A fallback only: on Dask each worker pins its threads from its own host when it joins
    # (tasks.engine.ModelWorkerPlugin), and a Lambda handler uses its own vCPUs.
    workers = 1 if dask_address else local_workers(settings.dask.n_workers)
    threads = onnx_threads(settings.model.onnx_threads, workers)
    batch_size = balanced_batch_size(len(keys), batch_size, workers)
    jobs = [
        BatchJob(
            run_id=run_id,
            batch=index // batch_size,
            source=source,
            source_keys=keys[index : index + batch_size],
            presets=list(presets),
            todo=[p.presets for p in todo[index : index + batch_size]],
            output_keys=[
                {name: outputs[name][i] for name in presets}
                for i in range(index, min(index + batch_size, len(keys)))
            ],
            destination=destination,
            catalog=catalog,
            model=ref,
            model_home=str(home),
            onnx_threads=threads,
            precision=settings.model.precision,
            max_pixels=settings.quality.max_pixels,
            write_options=settings.storage,
            source_etags=[p.info.etag for p in todo[index : index + batch_size]],
            source_versions=[p.info.version for p in todo[index : index + batch_size]],
            manifest=manifest,
            scenes=settings.scenes,
            sku_pattern=sku_pattern,
            # the key stays behind: each worker takes its own (tasks.creatives.generator.api_key)
            generator=settings.generator.model_copy(update={"api_key": None}),
        )
        for index in range(0, len(keys), batch_size)
    ]
    return Plan(jobs=jobs, originals=len(objects), already_processed=skipped)


# No task retries: a retry would run the model over the whole batch again. What fails after
# the model ran is already data (a failed row; a catalog part kept in the local spool), and a
# lost worker's batch is rescheduled by Dask itself.
@task(cache_policy=NO_CACHE)
def process_images(job: BatchJob) -> list[CatalogRow]:
    """Process one batch of images and write its catalog part; one row per (image, preset).
    On Dask, each finished image is announced to the flow as it goes (tasks.progress)."""
    return process_batch(job, on_image=image_publisher(job.run_id, job.batch))


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def process_images_on_lambda(
    job: BatchJob, function: str, max_attempts: int = 5
) -> list[CatalogRow]:
    """Process one batch in an AWS Lambda invocation (it writes the catalog part); its rows."""
    return lambda_engine.invoke_batch(job, function, lambda_engine.boto3_invoker(max_attempts))


@task(cache_policy=NO_CACHE)
def check_run_quality(
    rows: list[CatalogRow],
    settings: PackshotSettings,
    *,
    presets: list[str],
    run_id: str,
    destination: str,
    catalog: str,
) -> QualityResult:
    """Run each preset's Great Expectations Checkpoints (one per batch, one for the run) over
    its rows, publish their Data Docs under the run's report folder, and look for
    near-duplicates."""
    with tempfile.TemporaryDirectory(prefix="packshot-gx-") as tmp:
        result = quality.check_run(
            rows,
            presets=[get_preset(name) for name in presets],
            max_pixels=settings.quality.max_pixels,
            max_rejected_share=settings.quality.max_rejected_share,
            on_failure=settings.quality.on_failure,
            docs_dir=Path(tmp),
        )
        if result.data_docs:
            dest = Storage(destination, settings.storage)
            result.data_docs = _publish_data_docs(Path(result.data_docs), dest, run_id)
    result.near_duplicates = quality.near_duplicates(rows, _known_hashes(catalog, run_id))
    logger = get_run_logger()
    if result.success:
        logger.info(
            "Quality checkpoints passed (%d runs, %d expectations)",
            result.checkpoints,
            int(result.statistics.get("evaluated_expectations", 0)),
        )
    else:
        logger.warning("Quality checkpoints failed: %s", ", ".join(result.failed_expectations))
    if result.near_duplicates:
        logger.warning(
            "%d near-duplicate pair(s), e.g. %s ~ %s",
            len(result.near_duplicates),
            result.near_duplicates[0].key,
            result.near_duplicates[0].other,
        )
    return result


def _publish_data_docs(index: Path, dest: Storage, run_id: str) -> str:
    """Copy the rendered Data Docs site next to the run's report; the index's URL."""
    site = index.parent
    prefix = f"{REPORT_PREFIX}/{run_id}/data-docs"
    for path in sorted(p for p in site.rglob("*") if p.is_file()):
        kind = mimetypes.guess_type(path.name)[0]
        dest.write(
            f"{prefix}/{path.relative_to(site).as_posix()}", path.read_bytes(), content_type=kind
        )
    return dest.uri(f"{prefix}/index.html")


def _known_hashes(catalog: str, run_id: str) -> list[tuple[str, str, str]]:
    """(key, pHash, sha256) of images earlier runs processed, for near-duplicate checks."""
    try:
        table = catalog_io.query(
            catalog,
            "SELECT DISTINCT source_key, phash, sha256 FROM images WHERE status = 'processed' "
            f"AND phash IS NOT NULL AND run_id <> '{run_id.replace(chr(39), '')}'",
        )
    except duckdb.Error:  # catalog parts older than the phash column: nothing to compare
        return []
    return [(r["source_key"], r["phash"], r["sha256"]) for r in table.to_pylist()]


@task(cache_policy=NO_CACHE)
def publish_run_report(
    *,
    run_id: str,
    source: str,
    destination: str,
    catalog: str,
    rows: list[CatalogRow],
    quality_result: QualityResult,
    settings: PackshotSettings,
    plan: Plan,
    presets: list[str],
    timings: dict[str, float] | None = None,
) -> RunSummary:
    """Write the contact sheet and JSON report, and publish both as Prefect artifacts."""
    src, dest = Storage(source), Storage(destination, settings.storage)
    outcomes, reasons = reporting.count_outcomes(rows)
    sheet = reporting.contact_sheet(rows, src.read, dest.fs.cat_file)
    sheet_url = dest.write(
        f"{REPORT_PREFIX}/{run_id}/contact-sheet.jpg", sheet, content_type="image/jpeg"
    )
    summary = RunSummary(
        run_id=run_id,
        presets=presets,
        originals=plan.originals,
        seen=len(rows),
        processed=outcomes[Outcome.PROCESSED],
        rejected=outcomes[Outcome.REJECTED],
        failed=outcomes[Outcome.FAILED],
        needs_review=outcomes[Outcome.NEEDS_REVIEW],
        by_preset=reporting.count_by_preset(rows),
        already_processed=plan.already_processed,
        reasons=dict(reasons),
        catalog=catalog,
        # ready outputs only: those waiting under _review/ are not announced as done
        outputs=[key for row in rows if row.status == Outcome.PROCESSED for key in row.output_keys],
        quality=quality_result,
        contact_sheet=sheet_url,
        timings=timings or {},
        cost=_cost_estimate(rows),
    )
    report_key = f"{REPORT_PREFIX}/{run_id}/report.json"
    summary.report = dest.uri(report_key)
    dest.write(
        report_key, summary.model_dump_json(indent=2).encode(), content_type="application/json"
    )
    page = run_page.Linker(settings.ui.files_root, settings.ui.files_url, _signer(dest, settings))
    _artifacts(summary, rows, sheet_url, page)
    _page_artifacts(summary, rows, sheet, page, readers=(src.read, dest.fs.cat_file))
    return summary


def _cost_estimate(rows: list[CatalogRow]) -> CostEstimate | None:
    """What 1,000 images like this run's cost on each engine, at the bundled prices."""
    timings = [row.model_dump(include=set(cost_model.TIMING_COLUMNS)) for row in rows]
    model = rows[0].model if rows else ""
    return cost_model.estimate(timings, load_pricing(), model=model)


def _artifacts(summary: RunSummary, rows: list[CatalogRow], sheet_url: str, page) -> None:
    create_table_artifact(
        key="run-summary",
        table=reporting.summary_table(rows),
        description=run_page.nothing_to_do(summary.seen, summary.already_processed)
        or f"{summary.seen} images: {summary.processed} processed, "
        f"{summary.rejected} rejected, {summary.failed} failed",
    )
    create_link_artifact(
        key="contact-sheet",
        link=page(sheet_url) or _as_link(sheet_url),
        link_text="Before/after contact sheet",
        description="Each input beside its output, or its rejection reason.",
    )
    quality = summary.quality
    if quality and quality.data_docs:
        create_link_artifact(
            key="data-docs",
            link=page(quality.data_docs) or _as_link(quality.data_docs),
            link_text="Great Expectations Data Docs",
            description=f"{quality.checkpoints} Checkpoint runs over this run's catalog rows",
        )
    verdict = "passed" if quality and quality.success else "FAILED"
    failed = quality.failed_expectations if quality else []
    near = quality.near_duplicates if quality else []
    create_markdown_artifact(
        key="quality",
        markdown=f"### Quality checkpoints {verdict}\n\n"
        + "".join(f"- `{name}`\n" for name in failed)
        + (f"\n**{len(near)} near-duplicate pair(s)**\n\n" if near else "")
        + "".join(f"- `{d.key}` ~ `{d.other}` ({d.where}, {d.distance} bits)\n" for d in near[:50])
        + f"\nData Docs: `{quality.data_docs if quality else None}`\n"
        + f"Report: `{summary.report}`\n",
        description="Great Expectations verdict on this run's catalog rows",
    )


def _page_artifacts(summary: RunSummary, rows, sheet: bytes, link, *, readers) -> None:
    """The run's images, table, contact sheet and Data Docs, as the Prefect UI shows them."""
    idle = run_page.nothing_to_do(summary.seen, summary.already_processed)
    headline = idle or (
        f"{summary.seen} images: {summary.processed} processed, {summary.rejected} rejected, "
        f"{summary.failed} failed, {summary.needs_review} to review"
    )
    read_source, read_output = readers
    create_markdown_artifact(
        key="run-images",
        markdown=run_page.images_markdown(
            rows, read_source=read_source, read_output=read_output, link=link, headline=headline
        ),
        description=headline,
    )
    if rows:
        docs = summary.quality.data_docs if summary.quality else None
        create_markdown_artifact(
            key="before-after",
            markdown=run_page.sheet_markdown(sheet, link(summary.contact_sheet), link(docs)),
            description="Each input beside its outputs, or the reason a preset has none.",
        )


def _signer(dest: Storage, settings: PackshotSettings):
    """Presigned links for outputs on an object store (none for local folders)."""
    if dest.is_local or not hasattr(dest.fs, "sign"):
        return None
    return lambda url: dest.fs.sign(url, expiration=settings.ui.presign_seconds)


def _as_link(url: str) -> str:
    return url if "://" in url else Path(url).as_uri()


def new_local_run_id() -> str:
    """A run id for work done outside a flow run (tests, handlers)."""
    return uuid.uuid4().hex


def dumps(summary: RunSummary) -> str:
    return json.dumps(summary.model_dump(mode="json"))
