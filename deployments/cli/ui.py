"""`packshot ui`: the Prefect UI on this machine, with packshot's deployments ready to run."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from deployments.cli.common import UsageError, home
from schemas.settings import PackshotSettings

ECS_POOL = "packshot-ecs"  # deployments/ecs/prefect.yaml


def register(commands) -> None:
    ui = commands.add_parser(
        "ui", help="start the Prefect UI with packshot's deployments and a worker (Ctrl-C stops)"
    )
    ui.add_argument("--port", type=int, default=4200, help="port of the Prefect UI (4200)")
    ui.add_argument(
        "--home",
        type=Path,
        default=Path("~/.packshot/ui"),
        help="the stack's Prefect home: database, logs (~/.packshot/ui)",
    )
    ui.add_argument(
        "--files",
        type=Path,
        default=Path.cwd(),
        help="folder served on 127.0.0.1 so the run's links to outputs open (current folder)",
    )
    ui.add_argument(
        "--no-cluster",
        action="store_true",
        help="no warm Dask cluster: each run starts its own",
    )
    ui.add_argument("--ready-file", type=Path, help=argparse.SUPPRESS)  # tests: the URLs, as JSON
    ui.set_defaults(handler=_ui)


def _ui(args: argparse.Namespace, settings: PackshotSettings) -> int:
    from deployments import stack as ui_stack

    files = args.files.expanduser().resolve()
    if not files.is_dir():
        raise UsageError(f"--files {files} is not a folder")
    stack = ui_stack.Stack(home=args.home.expanduser().resolve())
    stack.home.mkdir(parents=True, exist_ok=True)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        _start(stack, args, files, settings)
        _announce(stack, args)
        stopping.wait()
    except KeyboardInterrupt:
        pass
    except RuntimeError as exc:  # the server or the cluster did not start
        _say(str(exc))
        return 1
    finally:
        _say("stopping the worker, the cluster and the server")
        stack.close()
    return 0


def _start(stack, args: argparse.Namespace, files: Path, settings: PackshotSettings) -> None:
    from deployments import stack as ui_stack

    ui_stack.start_server(stack, args.port, _say)
    # This process's children (the Dask workers) report task runs to the stack's server.
    os.environ |= {"PREFECT_API_URL": stack.api_url, "PREFECT_HOME": str(stack.home)}
    ui_stack.ensure_work_pool(stack.api_url)
    _say(f"work pool {ui_stack.POOL}: queues " + ", ".join(_queue_line()))
    ui_stack.serve_files(stack, files)
    _say(f"serving {files} on {stack.files_url} for the run's links")
    if not args.no_cluster:
        _start_cluster(stack, settings)
    chosen, skipped = ui_stack.plan_deployments(ui_stack.load_prefect_yamls(), os.environ)
    if any(entry["work_pool"]["name"] == ECS_POOL for entry in chosen):
        template = json.loads((ui_stack.ROOT / "deployments/ecs/work-pool.json").read_text())
        ui_stack.ensure_work_pool(stack.api_url, ECS_POOL, {}, "ecs", template)
    _say("deploying " + ", ".join(entry["name"] for entry in chosen))
    ui_stack.deploy(stack.api_url, chosen)
    for line in skipped:
        _say(line)
    env = ui_stack.prefect_env(stack.home, stack.api_url)
    env |= {"PACKSHOT_UI__FILES_URL": stack.files_url, "PACKSHOT_UI__FILES_ROOT": str(files)}
    # A local worker asks its own server for work every second, not every 10 s: a photo's run
    # starts as soon as its event has created it.
    env["PREFECT_WORKER_QUERY_SECONDS"] = "1"
    if stack.dask_address:
        env["PACKSHOT_DASK__ADDRESS"] = stack.dask_address
    ui_stack.start_worker(stack, env, _say)


def _queue_line() -> list[str]:
    from deployments.stack import QUEUES

    return [f"{name} (limit {limit})" if limit else name for name, limit in QUEUES.items()]


def _start_cluster(stack, settings: PackshotSettings) -> None:
    """A local Dask cluster with the default model loaded, kept for every run of the stack."""
    from tasks import model_store
    from tasks.engine import WarmModel, local_workers, start_local_cluster

    model_home = home(settings)
    try:
        ref = model_store.resolve(settings.model.default, model_home)
    except (KeyError, model_store.ModelError) as exc:
        raise UsageError(f"{exc}; run `packshot models pull {settings.model.default}`") from None
    warm = WarmModel(ref, str(model_home), settings.model.onnx_threads, settings.model.precision)
    workers = local_workers(settings.dask.n_workers)
    _say(f"starting a Dask cluster of {workers} worker(s), loading {ref.name}")
    cluster = start_local_cluster(workers, warm, processes=True)  # flow runs connect over TCP
    stack.adopt(cluster.close)
    stack.dask_address = cluster.scheduler_address


def _announce(stack, args: argparse.Namespace) -> None:
    if args.ready_file:
        urls = {"ui": stack.ui_url, "api": stack.api_url, "files": stack.files_url}
        args.ready_file.write_text(json.dumps({**urls, "dask": stack.dask_address}))
    _say(f"packshot UI ready: {stack.ui_url}  (Ctrl-C stops everything it started)")


def _say(line: str) -> None:
    print(f"packshot ui: {line}", file=sys.stderr, flush=True)
