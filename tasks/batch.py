"""The batch function: a list of keys in, one catalog row per key out.

The same function runs in a Dask worker, a Lambda handler or a test. It never raises for one
image: a bad file is a rejected row, an unexpected error is a failed row, so
processed + rejected + failed always equals the number of keys.

Work is pipelined so the model is never waiting on I/O: while one image is in onnxruntime,
the next is read, decoded and prepared on one thread and the previous one is composed,
encoded and written on another, both at a lower priority than the model's threads.
"""

from __future__ import annotations

import os
import resource
import socket
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

import numpy as np
from PIL import Image

from schemas.catalog import CatalogRow, Outcome, Reason
from schemas.creatives import Template
from schemas.presets import Preset, get_preset
from schemas.run import BatchJob
from tasks import quarantine
from tasks.catalog import write_catalog_part
from tasks.creatives.generator import api_key as generator_api_key
from tasks.creatives.manifest import cached_manifest
from tasks.creatives.outputs import BatchCreatives, Started
from tasks.imaging.compose import (
    MIN_FOREGROUND_SHARE,
    encode,
    foreground_share,
    mask_from_raw,
)
from tasks.imaging.decode import Decoded, Rejection, decode_image, sha256_hex
from tasks.imaging.inspect import grey_copy, measure_image, measure_product
from tasks.imaging.recipe import RenderContext, RenderRefused, render, scene_reader
from tasks.imaging.rules import judge_output, judge_product, judge_source
from tasks.leases import release_job
from tasks.pending import with_source_versions
from tasks.storage import Storage, UnusableObject
from tasks.trust import STATUS_OF_ROUTE, assess_cutout, judge_written, review_key

if TYPE_CHECKING:
    from tasks.imaging.sessions import ImglyIsnetSession


@dataclass
class _Output:
    """One (original, preset) pair on its way: the preset, its output key and its own row."""

    preset: Preset
    key: str
    row: dict[str, object] = field(default_factory=lambda: {"warnings": []})
    done: bool = False


@dataclass
class _Item:
    """One original on its way through the batch, with one `_Output` per preset to render.

    `row` holds what the original shares across its presets (bytes, format, measurements,
    the mask); each output's row holds its verdict and its file.
    """

    key: str
    outputs: list[_Output]
    row: dict[str, object] = field(default_factory=dict)
    decoded: Decoded | None = None
    grey: Image.Image | None = None  # the measurements' reduced copy (inspect.grey_copy)
    tensor: np.ndarray | None = None
    raw_mask: np.ndarray | Image.Image | None = None
    data: bytes | None = None  # the original, kept only until it is known not to be rejected
    done: bool = False
    creatives: list[tuple[_Output, Started]] = field(default_factory=list)  # to finish last

    def pending(self) -> list[_Output]:
        return [out for out in self.outputs if not out.done]


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 2)


def run_batch(job: BatchJob, on_image: Callable[[int], None] | None = None) -> list[CatalogRow]:
    """Process every key of the job; one row per (key, preset still to do), in the job's order.
    `on_image(rows)` is called as each original's outputs are written (progress)."""
    # onnxruntime and rembg: imported where batches run, never by a planner
    from tasks.imaging.sessions import ImglyIsnetSession, get_session, inference

    source = Storage(job.source, job.write_options)  # its read limits (max_file_bytes)
    destination = Storage(job.destination, job.write_options)
    session = get_session(job.model, job.onnx_threads, job.model_home, job.precision)
    label = inference(job.precision)
    imgly = session if isinstance(session, ImglyIsnetSession) else None
    items = [
        _Item(key, [_Output(get_preset(name), outputs[name]) for name in todo])
        for key, todo, outputs in zip(job.source_keys, job.todo, job.output_keys, strict=True)
    ]
    worker = f"{socket.gethostname()}:{os.getpid()}"
    with side_pool() as reader, side_pool() as writer, batch_creatives(job) as creatives:
        prepared = _prefetch(reader, items, lambda i: _prepare(i, job, source, imgly))
        written: list[Future[None]] = []
        for item in prepared:
            if not item.done:
                _guard(item, lambda i: _mask(i, session, label))
            finish = writer.submit(
                _finish_and_tell, item, lambda i: _finish(i, job, destination, creatives), on_image
            )
            written.append(finish)
        for future in written:
            future.result()
        # Generated backgrounds were painted meanwhile, on the generator's own threads.
        finishing = [
            writer.submit(_finish_creative, item, out, started, creatives, job, destination)
            for item in items
            for out, started in item.creatives
        ]
        for future in finishing:
            future.result()
    for item in items:
        rows = {out.preset.name: out.row for out in item.outputs}
        quarantine.settle(item.key, item.data, rows, destination, item.row.get("sha256"))
        item.data = None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB
    for item in items:
        item.row["worker_peak_rss_mb"] = round(peak, 1)
    return [
        _row(item, out, job, worker, source, i)
        for item in items
        for i, out in enumerate(item.outputs)
    ]


# The threads around the model (read, decode, compose, encode) run at a lower priority. On a
# machine the model fills, a side thread at equal priority pre-empts one of onnxruntime's
# threads, and the others then wait for it at the next barrier. With a thread beside it doing
# one image's side work per inference, an inference took 1.88 s at nice 0, 1.81 s at nice 5
# and 1.80 s under SCHED_IDLE (8 interleaved rounds). SCHED_IDLE is not used: a busy host
# could starve it, while at nice 5 a side thread still gets a quarter of a contended core.
SIDE_NICE = 5


def side_pool() -> ThreadPoolExecutor:
    """A one-thread executor for the work around the model, `SIDE_NICE` below its caller."""
    return ThreadPoolExecutor(1, initializer=_lower_priority)


def _lower_priority() -> None:
    if sys.platform == "linux":  # where nice() changes the calling thread only
        os.nice(SIDE_NICE)


def _prefetch(pool: ThreadPoolExecutor, items: list[_Item], work) -> Iterator[_Item]:
    """Yield items in order, each prepared on `pool` while the caller handles the previous.

    The first is prepared on the caller's thread, beside the second on `pool`: no model runs
    yet for the lower-priority side thread to give way to, only the task's own start-up
    (Prefect's events and logs), which it would otherwise wait behind.
    """
    ahead: Future[None] | None = None
    for index, item in enumerate(items):
        current = ahead
        ahead = pool.submit(_guard, items[index + 1], work) if index + 1 < len(items) else None
        if current is None:
            _guard(item, work)
        else:
            current.result()
        yield item


def _finish_and_tell(item: _Item, work, on_image: Callable[[int], None] | None) -> None:
    _guard(item, work)
    if on_image is not None:
        try:
            on_image(len(item.outputs))
        except Exception:  # progress is a convenience; the batch's rows are what count
            pass


def _guard(item: _Item, work) -> None:
    """Run one stage; an unexpected exception fails every output still pending."""
    if item.done:
        return
    try:
        work(item)
    except Exception as exc:  # one image must never sink the batch
        for out in item.pending():
            _fail(out, exc)
        item.done = True
        item.decoded = item.grey = item.tensor = item.raw_mask = None


def _fail(out: _Output, exc: Exception) -> None:
    out.row.update(status=Outcome.FAILED.value, error=f"{type(exc).__name__}: {exc}"[:2000])
    out.done = True


def _reject_output(out: _Output, rejection: Rejection) -> None:
    out.row.update(
        status=Outcome.REJECTED.value, reason=rejection.reason.value, detail=rejection.detail
    )
    out.done = True


def _reject(item: _Item, rejection: Rejection) -> None:
    """The same rejection for every preset still pending (a fault of the original itself)."""
    for out in item.pending():
        _reject_output(out, rejection)
    item.done = True


def _prepare(item: _Item, job: BatchJob, source: Storage, imgly: ImglyIsnetSession | None) -> None:
    """Read, decode and judge against each preset; for the IMG.LY session, also build the
    model's input tensor (rembg's own sessions do their own pre-processing in `predict`)."""
    start = time.perf_counter()
    try:
        data = source.read(item.key)
    except UnusableObject as refused:  # a link, FIFO, device, huge or moving file: never read
        return _reject(item, Rejection(refused.reason, refused.detail))
    item.data = data
    item.row.update(read_ms=_ms(start), file_bytes=len(data), sha256=sha256_hex(data))
    start = time.perf_counter()
    decoded = decode_image(data, max_pixels=job.max_pixels)
    if isinstance(decoded, Rejection):
        item.row["inspect_ms"] = _ms(start)
        return _reject(item, decoded)
    item.row.update(
        format=decoded.format,
        mode=decoded.mode,
        width=decoded.width,
        height=decoded.height,
        exif_orientation=decoded.exif_orientation,
        frames=decoded.frames,
        icc_profile=decoded.icc_profile,
    )
    item.grey = grey_copy(decoded.image)
    metrics = measure_image(decoded.image, item.grey)
    item.row.update(
        aspect_ratio=metrics.aspect_ratio, sharpness=metrics.sharpness, phash=metrics.phash
    )
    for out in item.outputs:  # a photo can be too small for one marketplace, fine for another
        rejection, warnings = judge_source(decoded, metrics, out.preset)
        out.row["warnings"].extend(warnings)
        if rejection:
            _reject_output(out, rejection)
    item.row["inspect_ms"] = _ms(start)
    if not item.pending():
        item.done = True
        return
    item.decoded = decoded
    if imgly is not None:
        item.tensor = imgly.prepare(decoded.image)
    item.row["inspect_ms"] = _ms(start)


def _mask(item: _Item, session, label: str) -> None:
    start = time.perf_counter()
    assert item.decoded is not None
    if item.tensor is not None:
        item.raw_mask = session.infer(item.tensor)
        item.tensor = None
    else:  # rembg's own sessions do their own pre- and post-processing
        item.raw_mask = session.predict(item.decoded.image)[0]
    item.row.update(mask_ms=_ms(start), inference=label)


def output_metadata(item: _Item, out: _Output, job: BatchJob) -> dict[str, str]:
    """User metadata of an output object: where it came from and what made it."""
    return {
        "source-sha256": str(item.row.get("sha256", "")),
        "source-key": quote(item.key),  # S3 metadata must be ASCII
        "run-id": job.run_id,
        "preset": out.preset.name,
        "model": job.model.name,
        "model-sha256": job.model.sha256,
        "inference": str(item.row.get("inference", "")),
    }


def _finish(item: _Item, job: BatchJob, destination: Storage, creatives: BatchCreatives) -> None:
    """From the one mask: measure the product, then render and write every pending preset."""
    start = time.perf_counter()
    assert item.decoded is not None and item.raw_mask is not None
    image = item.decoded.image
    raw = item.raw_mask
    mask = raw if isinstance(raw, Image.Image) else mask_from_raw(raw, image.size)
    share = foreground_share(mask)
    item.row["foreground_share"] = round(share, 5)
    if share < MIN_FOREGROUND_SHARE:
        item.row["compose_ms"] = _ms(start)
        return _reject(
            item,
            Rejection(Reason.NO_FOREGROUND, f"the model found no product ({share:.2%} of frame)"),
        )
    assert item.grey is not None
    product = measure_product(item.grey, mask)
    item.row.update(
        product_fill=product.product_fill,
        product_cut_off=product.cut_off,
        highlights_clipped=product.highlights_clipped,
        shadows_clipped=product.shadows_clipped,
    )
    warnings = judge_product(product)
    item.row.update(assess_cutout(image, mask))
    ctx = RenderContext(image, mask, scenes=scene_reader(job.scenes))
    for out in item.pending():
        out.row["warnings"].extend(warnings)
        try:
            if isinstance(out.preset, Template):
                _start_creative(item, out, ctx, creatives)
            else:
                _render_output(item, out, ctx, job, destination)
        except Exception as exc:  # one preset's failure leaves the others standing
            _fail(out, exc)
    item.decoded = item.grey = item.raw_mask = None
    if any(out.row.get("status") == Outcome.PROCESSED.value for out in item.outputs):
        item.data = None  # not every preset rejected it: no quarantine copy to make
    item.done = True


def _render_output(
    item: _Item, out: _Output, ctx: RenderContext, job: BatchJob, destination: Storage
) -> None:
    """Render one preset from the shared mask, judge the file and write it."""
    start = time.perf_counter()
    try:
        rendered = render(out.preset, ctx)
    except RenderRefused as refused:  # this image cannot take this preset: a reason, not a crash
        out.row["compose_ms"] = _ms(start)
        return _reject_output(out, Rejection(refused.reason, refused.detail))
    data = encode(rendered.image, out.preset)
    out.row.update(rendered.facts)
    out.row.update(
        compose_ms=_ms(start),
        output_width=rendered.image.width,
        output_height=rendered.image.height,
        output_bytes=len(data),
    )
    too_large = judge_output(rendered.image.width, rendered.image.height, len(data), out.preset)
    if too_large:
        return _reject_output(out, too_large)
    route = _judge_trust(item, out, ctx, data, job)
    if route == "reject":
        return
    start = time.perf_counter()
    uri = destination.write(
        review_key(out.key) if route == "review" else out.key,
        data,
        content_type=out.preset.output.content_type,
        metadata=output_metadata(item, out, job),
    )
    out.row.update(write_ms=_ms(start), output_keys=[uri], status=STATUS_OF_ROUTE[route])
    out.done = True


def batch_creatives(job: BatchJob) -> BatchCreatives:
    """The batch's manifest (read once per process) and generator client."""
    manifest = cached_manifest(job.manifest, job.sku_pattern) if job.manifest else None
    wanted = any(isinstance(get_preset(name), Template) for name in job.presets)
    generator = job.generator if wanted else None
    return BatchCreatives(manifest, generator, generator_api_key(job.generator) if wanted else None)


def _start_creative(item: _Item, out: _Output, ctx: RenderContext, creatives) -> None:
    """Place the product and ask for its background; the creative is finished after the
    batch's last mask (`_finish_creative`), so a slow generator never holds the model."""
    started = creatives.start(out.preset, item.key, ctx.image, ctx.mask, str(item.row["sha256"]))
    if isinstance(started, Rejection):
        return _reject_output(out, started)
    item.creatives.append((out, started))


def _finish_creative(
    item: _Item, out: _Output, started: Started, creatives, job: BatchJob, destination: Storage
) -> None:
    try:
        start = time.perf_counter()
        finished = creatives.finish(started)
        out.row.update(finished.facts)
        out.row["warnings"].extend(finished.warnings)
        out.row.update(
            compose_ms=_ms(start),
            output_width=finished.image.width,
            output_height=finished.image.height,
            output_bytes=len(finished.data),
        )
        size = finished.image.size
        too_large = judge_output(size[0], size[1], len(finished.data), out.preset)
        if too_large:
            return _reject_output(out, too_large)
        start = time.perf_counter()
        metadata = output_metadata(item, out, job) | finished.metadata
        content_type = out.preset.output.content_type
        uri = destination.write(
            out.key, finished.data, content_type=content_type, metadata=metadata
        )
        out.row.update(write_ms=_ms(start), output_keys=[uri], status=Outcome.PROCESSED.value)
        out.done = True
    except Exception as exc:  # one creative's failure leaves the others standing
        _fail(out, exc)


def _judge_trust(item: _Item, out: _Output, ctx: RenderContext, data: bytes, job: BatchJob) -> str:
    """Issue 16: the compliance evidence of the file about to be written, and where it goes
    (`ready`, `review`: under DEST/_review/, or `reject`: rejected here)."""
    confidence = item.row.get("confidence")
    verdict = judge_written(
        data,
        out.preset,
        image=ctx.image,
        mask=ctx.mask,
        confidence=confidence if isinstance(confidence, float) else None,
        model_home=job.model_home,
        reduced=ctx.extras.setdefault("trust", {}),  # type: ignore[arg-type]
    )
    out.row.update(verdict.facts())
    out.row["warnings"].extend(verdict.warnings())
    rejection = verdict.rejection()
    if rejection:
        _reject_output(out, Rejection(Reason(rejection[0]), rejection[1]))
    return verdict.route


# Stages every preset of an image shares: recorded on its first row only, so a catalog's
# timings sum to the work done (the cost model adds them up per row).
SHARED_TIMINGS = ("read_ms", "inspect_ms", "mask_ms")


def _row(
    item: _Item, out: _Output, job: BatchJob, worker: str, source: Storage, index: int
) -> CatalogRow:
    shared = dict(item.row)
    if index > 0:
        for name in SHARED_TIMINGS:
            shared.pop(name, None)
    return CatalogRow(
        run_id=job.run_id,
        batch=job.batch,
        source_key=item.key,
        source_uri=source.uri(item.key),
        preset=out.preset.name,
        model=job.model.name,
        model_sha256=job.model.sha256,
        worker=worker,
        processed_at=datetime.now(UTC),
        **{**shared, **out.row},  # type: ignore[arg-type]
    )


def process_batch(job: BatchJob, on_image: Callable[[int], None] | None = None) -> list[CatalogRow]:
    """Run the batch and write its catalog part: what a Dask task and a Lambda handler both do."""
    rows = with_source_versions(run_batch(job, on_image), job)
    write_catalog_part(
        job.catalog, rows, run_id=job.run_id, batch=job.batch, write_options=job.write_options
    )
    release_job(job)  # the rows are in the catalog (or its spool): another run may go on
    return rows
