"""`packshot demo`, `packshot process` and `packshot check`: runs of the flow, and checks."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import socket
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from deployments.cli.common import UsageError, check_presets, home, parse_presets, pull
from schemas.models import MODELS
from schemas.presets import load_presets
from schemas.settings import PackshotSettings

SAMPLES = Path(__file__).resolve().parent.parent.parent / "samples"
# The demo's product manifest and logo: one feed ad per sample photo beside its packshot.
DEMO_MANIFEST = SAMPLES.parent / "deployments" / "demo" / "manifest.csv"
# The demo shows a seller's whole set from one mask: the main image, a shadow, a backdrop, a
# staged scene, the cutout and a feed ad.
DEMO_PRESETS = [
    "amazon-main",
    "studio-shadow",
    "studio-sweep",
    "tabletop-scene",
    "transparent",
    "ad-feed",
]


def register(commands) -> None:
    demo = commands.add_parser("demo", help="run the bundled sample photos end to end")
    demo.add_argument("--dest", default="packshot-demo", help="output folder (./packshot-demo)")
    _run_options(demo)
    demo.set_defaults(handler=_demo)

    process = commands.add_parser("process", help="process every image under SOURCE")
    process.add_argument("source", help="folder or fsspec URL of the originals")
    process.add_argument("dest", help="folder or URL for packshots (and the catalog)")
    _run_options(process)
    process.set_defaults(handler=_process)

    check = commands.add_parser(
        "check", help="check every file under SOURCE against a preset's rules (no model)"
    )
    check.add_argument("source", help="folder or fsspec URL of the originals")
    check.add_argument("--preset", default="amazon-main", help="preset name")
    check.add_argument("--json", action="store_true", help="one JSON object per file")
    check.set_defaults(handler=_check)


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--preset",
        action="append",
        default=None,
        help="preset to render, repeated or comma-separated (default amazon-main); "
        "every preset is rendered from the one mask of each photo",
    )
    parser.add_argument("--model", default=None, help="model name or .onnx file in the model home")
    parser.add_argument("--batch-size", type=int, default=None, help="images per batch task")
    parser.add_argument("--dask-address", default=None, help="existing Dask scheduler address")
    parser.add_argument(
        "--engine", choices=["dask", "lambda"], default="dask", help="where batches run"
    )
    parser.add_argument(
        "--lambda-function", default=None, help="batch function for --engine lambda"
    )
    parser.add_argument("--catalog", default=None, help="catalog URL (default DEST/catalog)")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the run summary as one JSON object on the last line",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="process originals the catalog already holds as processed (default: skip them)",
    )
    parser.add_argument(
        "--manifest",
        default=None,
        metavar="PATH_OR_URL",
        help="product manifest (CSV, JSON or Parquet) with the ad creatives' text, by source "
        "key or SKU; needed by the ad-* presets",
    )


def _demo(args: argparse.Namespace, settings: PackshotSettings) -> int:
    model = args.model or settings.model.default
    from schemas.models import get_model_spec
    from tasks import model_store

    if model in MODELS and not model_store.is_pulled(get_model_spec(model), home(settings)):
        print(
            f"Pulling model {model} (first run only; licence: {get_model_spec(model).licence})",
            file=sys.stderr,
        )
        pull(model, settings)
    args.source = str(SAMPLES)
    args.manifest = args.manifest or str(DEMO_MANIFEST)
    args.preset = args.preset or DEMO_PRESETS
    return _process(args, settings)


def _process(args: argparse.Namespace, settings: PackshotSettings) -> int:
    from tasks import model_store
    from tasks.storage import Storage

    model = args.model or settings.model.default
    args.presets = parse_presets(args.preset)
    _check_manifest(args)
    check_presets(args.presets)
    try:
        model_store.resolve(model, home(settings))
    except (KeyError, model_store.ModelError) as exc:
        raise UsageError(str(exc).strip("'\"")) from None
    batch_size = args.batch_size or settings.batch_size
    if batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    if args.engine == "lambda" and not (args.lambda_function or settings.aws_lambda.function):
        raise UsageError("--engine lambda needs --lambda-function or PACKSHOT_AWS_LAMBDA__FUNCTION")
    if Storage(args.source).is_local and not Path(args.source).is_dir():
        raise UsageError(f"source folder {args.source} does not exist")
    return _run_flow(args, model, batch_size, settings)


def _check_manifest(args: argparse.Namespace) -> None:
    """Read the manifest before anything starts: one that cannot be used is the one-line
    usage error; an ad template without any manifest too."""
    from schemas.creatives import load_templates
    from tasks.creatives.manifest import ManifestError, load_manifest

    creatives = [name for name in args.presets if name in load_templates()]
    if creatives and not args.manifest:
        raise UsageError(f"{', '.join(creatives)} need a product manifest: --manifest PATH_OR_URL")
    if args.manifest:
        try:
            load_manifest(args.manifest)
        except ManifestError as exc:
            raise UsageError(str(exc)) from None


def _run_flow(
    args: argparse.Namespace, model: str, batch_size: int, settings: PackshotSettings
) -> int:
    # Dask's cluster start/stop chatter drowns the run's own progress lines.
    logging.getLogger("distributed").setLevel(logging.WARNING)

    # The Prefect server boots, the local cluster's workers load the model and this process
    # imports the flow, all at once: ~10 s of start-up here where one after the other took ~17 s.
    with (
        prefect_api() as api_ready,
        warm_local_cluster(args, model, batch_size, settings) as cluster,
    ):
        from flows.process_product_images import process_product_images

        try:
            address = cluster()
        except Exception as exc:  # a worker could not load the model, say
            print(f"packshot: the local Dask cluster did not start: {exc}", file=sys.stderr)
            return 1
        api_ready()
        state = _call_flow(process_product_images, args, model, batch_size, address)
    result = state.result(raise_on_failure=False)
    if not state.is_completed():
        reason = str(result).splitlines()[0] if result else state.message
        print(f"packshot: run failed: {reason}", file=sys.stderr)
        return 1
    _print_summary(args, result)
    return 0


@contextlib.contextmanager
def prefect_api() -> Iterator[Callable[[], str]]:
    """The Prefect API for this command: PREFECT_API_URL when set, else one embedded server.

    The embedded server is imported and booted on a background thread; yields a function that
    waits until it answers and returns its URL. The URL (a free port chosen here) is exported
    at once, so child processes started meanwhile (Dask workers) inherit it: left to
    themselves, every worker process would start an embedded server of its own (seconds each,
    and a database per process).
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():
        url = PREFECT_API_URL.value()
        yield lambda: url
        return
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    os.environ["PREFECT_API_URL"] = url

    def boot():
        from prefect.server.api.server import SubprocessASGIServer

        server = SubprocessASGIServer(port)
        server.start()
        return server

    def ready() -> str:
        server = booting.result()
        if server.api_url != url:  # the port was taken meanwhile; workers know the old one
            raise RuntimeError(f"the Prefect server moved from {url} to {server.api_url}")
        return url

    with ThreadPoolExecutor(1, thread_name_prefix="prefect-server") as pool:
        booting = pool.submit(boot)
        try:
            with temporary_settings(updates={PREFECT_API_URL: url}):
                yield ready
                _drain_prefect_clients()
        finally:
            os.environ.pop("PREFECT_API_URL", None)
            with contextlib.suppress(Exception):
                booting.result().stop()  # a server still booting is stopped once it is up


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def warm_local_cluster(
    args: argparse.Namespace, model: str, batch_size: int, settings: PackshotSettings
) -> Iterator[Callable[[], str | None]]:
    """For a Dask run that names no cluster: a local one, started in the background with the
    model loading in its workers. Yields a function that waits for it and returns its address
    (the run's own --dask-address, or None, when there is nothing to start)."""
    from tasks import model_store
    from tasks.engine import WarmModel, balanced_batch_size, local_workers, start_local_cluster

    batches = None  # a bucket is not listed twice: the flow lists it
    if Path(args.source).is_dir():
        originals = sum(len(files) for _, _, files in os.walk(args.source))
        size = balanced_batch_size(originals, batch_size, local_workers(settings.dask.n_workers))
        batches = -(-originals // size)  # as the flow's planner will cut them
    workers = local_workers(settings.dask.n_workers, batches)
    if args.engine != "dask" or args.dask_address or settings.dask.address or workers < 1:
        yield lambda: args.dask_address
        return
    model_home = home(settings)
    ref = model_store.resolve(model, model_home)
    warm = WarmModel(ref, str(model_home), settings.model.onnx_threads, settings.model.precision)
    with ThreadPoolExecutor(1, thread_name_prefix="dask-cluster") as pool:
        starting = pool.submit(start_local_cluster, workers, warm)
        try:
            yield lambda: starting.result().scheduler_address
        finally:
            if starting.exception() is None:
                starting.result().close()


def _drain_prefect_clients() -> None:
    """Send the logs and events still queued while the server is up: once it is gone their
    workers would retry against a closed port for a minute before the process could exit."""
    from prefect._internal.concurrency.services import QueueService

    QueueService.drain_all(timeout=10)


def _call_flow(flow, args: argparse.Namespace, model: str, batch_size: int, address: str | None):
    return flow(
        source=args.source,
        destination=args.dest,
        presets=args.presets,
        model=model,
        batch_size=batch_size,
        dask_address=address,
        catalog=args.catalog,
        engine=args.engine,
        lambda_function=args.lambda_function,
        force=args.force,
        manifest=args.manifest,
        return_state=True,
    )


def _print_summary(args: argparse.Namespace, summary) -> None:
    pairs = f"{summary.seen} images"
    if len(summary.presets) > 1:
        pairs = f"{summary.originals} images x {len(summary.presets)} presets = {summary.seen}"
    review = f", {summary.needs_review} need review" if summary.needs_review else ""
    print(
        f"{pairs}: {summary.processed} processed, {summary.rejected} rejected, "
        f"{summary.failed} failed{review}",
        file=sys.stderr,
    )
    if summary.reasons:
        print(
            "reasons: " + ", ".join(f"{k}={v}" for k, v in sorted(summary.reasons.items())),
            file=sys.stderr,
        )
    print(
        f"outputs under {args.dest}; catalog {summary.catalog}; report {summary.report}; "
        f"contact sheet {summary.contact_sheet}",
        file=sys.stderr,
    )
    if args.json:
        print(json.dumps(summary.model_dump(mode="json")))


def _check(args: argparse.Namespace, settings: PackshotSettings) -> int:
    from tasks.imaging.check import check_source

    if args.preset not in load_presets():
        raise UsageError(f"unknown preset {args.preset!r}; known: {', '.join(load_presets())}")
    results = check_source(args.source, args.preset, max_pixels=settings.quality.max_pixels)
    for key, result in results:
        if args.json:
            print(json.dumps({"key": key, **result.__dict__}))
        else:
            why = result.reason or ", ".join(result.warnings) or ""
            verdict = "pass" if result.status == "processed" else result.status
            print(f"{verdict:<9} {key}  {why}  {result.detail or ''}".rstrip())
    rejected = sum(1 for _, r in results if r.status != "processed")
    print(
        f"{len(results)} files: {len(results) - rejected} pass, {rejected} rejected",
        file=sys.stderr,
    )
    return 0
