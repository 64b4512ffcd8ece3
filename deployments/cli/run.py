"""`packshot demo`, `packshot process` and `packshot check`: runs of the flow, and checks."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from deployments.cli.common import UsageError, check_presets, home, parse_presets, pull
from deployments.cli.lifecycle import (
    CLI_TAG,
    CLUSTER_START_S,
    StartupError,
    import_once,
    import_quality_checks,
    mark_orphaned_runs,
    pid_tag,
    prefect_api,
    terminate_as_interrupt,
)
from schemas.models import MODELS
from schemas.presets import load_presets
from schemas.settings import PackshotSettings

# Exit codes (README "Exit codes"): 2 is argparse's and the CLI's usage error.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_IMAGES_FAILED = 0, 1, 2, 3

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
    batch_size = settings.batch_size if args.batch_size is None else args.batch_size
    if batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    if args.engine == "lambda" and not (args.lambda_function or settings.aws_lambda.function):
        raise UsageError("--engine lambda needs --lambda-function or PACKSHOT_AWS_LAMBDA__FUNCTION")
    # The Prefect server boots in its own process while this one checks the rest, imports
    # the flow and starts the cluster: side by side, not in turn.
    with terminate_as_interrupt(), prefect_api() as api_ready:
        model = _checked_model(args, settings)
        return _run_flow(args, model, batch_size, settings, api_ready)


def _checked_model(args: argparse.Namespace, settings: PackshotSettings) -> str:
    """The run's model, once the presets, manifest, model and source are known to be usable
    (else the one-line usage error)."""
    from tasks import model_store
    from tasks.storage import Storage

    model = args.model or settings.model.default
    args.presets = parse_presets(args.preset)
    _check_manifest(args)
    check_presets(args.presets, settings.scenes)
    try:
        model_store.resolve(model, home(settings))
    except (KeyError, model_store.ModelError) as exc:
        raise UsageError(str(exc).strip("'\"")) from None
    if Storage(args.source).is_local and not Path(args.source).is_dir():
        raise UsageError(f"source folder {args.source} does not exist")
    return model


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
    args: argparse.Namespace, model: str, batch_size: int, settings: PackshotSettings, api_ready
) -> int:
    from tasks.preflight import prepare_destination
    from tasks.storage import StorageError

    catalog = args.catalog or args.dest.rstrip("/") + "/catalog"
    try:
        prepare_destination(args.dest, catalog, settings.storage)
    except StorageError as exc:
        print(f"packshot: destination not usable: {exc}", file=sys.stderr)
        return EXIT_FAILED
    # The local cluster's workers load the model while the server finishes booting (imports
    # stay on this thread: import_once).
    import_once()
    # Dask's cluster chatter drowns the run's own progress lines (set once distributed
    # is imported: its import sets its own levels).
    logging.getLogger("distributed").setLevel(logging.WARNING)
    from tasks.progress import attach_terminal_bar

    attach_terminal_bar()
    with warm_local_cluster(args, model, batch_size, settings) as cluster:
        return _start_and_call(args, model, batch_size, catalog, settings, api_ready, cluster)


def _start_and_call(args, model, batch_size, catalog, settings, api_ready, cluster) -> int:
    """Wait for the cluster and the server, run the flow, say how it went (the exit code)."""
    from flows.process_product_images import process_product_images

    import_quality_checks()  # while the cluster and the server come up
    try:
        api_ready()
        _mark_orphaned_runs()  # while the cluster's workers may still load the model
        address = cluster()
    except Exception as exc:  # which part did not come up, in one line
        print(f"packshot: {_one_line(exc)}", file=sys.stderr)
        return EXIT_FAILED
    state = _call_flow(process_product_images, args, model, batch_size, address)
    result = state.result(raise_on_failure=False)
    _flush_audit(catalog, result if state.is_completed() else None, settings)
    if not state.is_completed():
        reason = str(result).splitlines()[0] if result else state.message
        print(f"packshot: run failed: {reason}", file=sys.stderr)
        return EXIT_FAILED
    _print_summary(args, result)
    return EXIT_IMAGES_FAILED if result.failed else EXIT_OK


def _mark_orphaned_runs() -> None:
    """Runs a killed command left Running are marked Crashed: a courtesy, never a failure."""
    try:
        marked = mark_orphaned_runs()
    except Exception as exc:
        print(f"packshot: could not look for orphaned runs: {_one_line(exc)}", file=sys.stderr)
        return
    if marked:
        print(
            f"packshot: marked {len(marked)} run(s) a killed command left Running as Crashed: "
            + ", ".join(marked),
            file=sys.stderr,
        )


def _one_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:300]


def _flush_audit(catalog: str, summary, settings: PackshotSettings) -> None:
    """Append what this process read and wrote (listing, planning, reports) to the trail."""
    from tasks import audit

    try:
        audit.flush(catalog, summary.run_id if summary else None, settings.storage)
    except Exception as exc:
        print(f"packshot: audit trail not written: {_one_line(exc)}", file=sys.stderr)


@contextlib.contextmanager
def warm_local_cluster(
    args: argparse.Namespace, model: str, batch_size: int, settings: PackshotSettings
) -> Iterator[Callable[[], str | None]]:
    """For a Dask run that names no cluster: a local one, started in the background with the
    model loading in its workers. Yields a function that waits for it and returns its address
    (the run's own --dask-address, or None, when there is nothing to start)."""
    from tasks import model_store
    from tasks.engine import (
        WarmModel,
        balanced_batch_size,
        import_for_workers,
        local_processes,
        local_workers,
        start_local_cluster,
    )

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
    processes = local_processes(settings.dask.processes, workers, batches)
    if not processes:
        import_for_workers()
    with ThreadPoolExecutor(1, thread_name_prefix="dask-cluster") as pool:
        starting = pool.submit(start_local_cluster, workers, warm, processes)
        try:
            yield lambda: _cluster_address(starting)
        finally:
            if starting.exception() is None:
                starting.result().close()


def _cluster_address(starting) -> str:
    from concurrent.futures import TimeoutError as Timeout

    try:
        return starting.result(timeout=CLUSTER_START_S).scheduler_address
    except Timeout:
        limit = f"the local Dask cluster did not start within {CLUSTER_START_S} s"
        raise StartupError(limit) from None
    except Exception as exc:  # a worker could not load the model, say
        raise StartupError(f"the local Dask cluster did not start: {_one_line(exc)}") from None


def _call_flow(flow, args: argparse.Namespace, model: str, batch_size: int, address: str | None):
    """Run the flow here, its run tagged with the process that runs it (so that the next
    command can mark it Crashed if this one is killed); its final state.

    The run is created with its tags rather than under Prefect's tags context: every task
    inherits the context's tags, and a tagged task takes and gives back a concurrency lease
    through the API (benchmarks/RESULTS.md, a command's fixed cost)."""
    from prefect.client.orchestration import get_client
    from prefect.flow_engine import run_flow
    from prefect.states import Pending

    parameters = _parameters(args, model, batch_size, address)
    with get_client(sync_client=True) as client:
        flow_run = client.create_flow_run(
            flow,
            parameters=flow.serialize_parameters(parameters),
            state=Pending(),
            tags=[CLI_TAG, pid_tag()],
        )
    return run_flow(flow, flow_run=flow_run, parameters=parameters, return_type="state")


def _parameters(args: argparse.Namespace, model: str, batch_size: int, address: str | None):
    return dict(
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
    from tasks.storage import Storage, printable

    if args.preset not in load_presets():
        raise UsageError(f"unknown preset {args.preset!r}; known: {', '.join(load_presets())}")
    if Storage(args.source).is_local and not Path(args.source).is_dir():
        raise UsageError(f"source folder {args.source} does not exist")
    results = check_source(args.source, args.preset, max_pixels=settings.quality.max_pixels)
    for key, result in results:
        if args.json:
            print(json.dumps({"key": key, **result.__dict__}))
        else:
            why = result.reason or ", ".join(result.warnings) or ""
            verdict = "pass" if result.status == "processed" else result.status
            print(f"{verdict:<9} {printable(key)}  {why}  {result.detail or ''}".rstrip())
    rejected = sum(1 for _, r in results if r.status != "processed")
    print(
        f"{len(results)} files: {len(results) - rejected} pass, {rejected} rejected",
        file=sys.stderr,
    )
    return 0
