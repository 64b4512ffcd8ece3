"""The local stack behind `packshot ui`: a Prefect server, its work pool and queues, the
deployments of deployments/prefect.yaml that can run here, a process worker, a warm Dask
cluster and a small file server for the outputs, all on 127.0.0.1.

Everything it starts is stopped by `Stack.close()`: each child process leads its own process
group, so the server's web process and the worker's flow runs stop with them.
"""

from __future__ import annotations

import contextlib
import http.server
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
# The process pool's deployments, then the cloud-only ones (their own pool, on AWS).
PREFECT_YAMLS = (Path(__file__).with_name("prefect.yaml"), ROOT / "deployments/ecs/prefect.yaml")
POOL = "packshot-process"
# Event-driven runs and sweeps write the same catalog: one at a time (see prefect.yaml).
QUEUES = {"default": None, "catalog-writers": 1}
# A cold server on a loaded 2-core machine migrates its database for well over 20 s.
HEALTH_LIMIT_S = 180.0
# Deployment -> environment variables it needs; without them it is not deployed here.
NEEDS: dict[str, tuple[str, ...]] = {
    "dask-cluster": ("PACKSHOT_DASK__ADDRESS",),
    "ecs": ("PACKSHOT_ECS_IMAGE", "PACKSHOT_ECS_TASK_ROLE_ARN", "PACKSHOT_ECS_EXECUTION_ROLE_ARN"),
    "ecs-lambda": (
        "PACKSHOT_ECS_IMAGE",
        "PACKSHOT_ECS_TASK_ROLE_ARN",
        "PACKSHOT_ECS_EXECUTION_ROLE_ARN",
    ),
    "sweep": ("PACKSHOT_SWEEP_SOURCE", "PACKSHOT_SWEEP_DESTINATION"),
}
Say = Callable[[str], None]


@dataclass
class Stack:
    """What `packshot ui` started; `close()` stops it all, newest first."""

    home: Path
    ui_url: str = ""
    api_url: str = ""
    files_url: str = ""
    dask_address: str = ""
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def adopt(self, closer: Callable[[], None]) -> None:
        self._closers.append(closer)

    def close(self) -> None:
        while self._closers:
            with contextlib.suppress(Exception):
                self._closers.pop()()


def prefect_env(home: Path, api_url: str) -> dict[str, str]:
    """The environment of every Prefect process of the stack: its own home and database.

    The server logs the 503s it answers when its SQLite database is busy: Prefect's clients
    retry them, but the browser does not, and the UI only says "Oops" (PrefectHQ/prefect#16102).
    """
    return {
        "PREFECT_SERVER_LOG_RETRYABLE_ERRORS": "true",
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_API_URL": api_url,
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
    }


def spawn(stack: Stack, argv: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen:
    """A child process in its own process group, its output in `log`, stopped with the stack."""
    out = log.open("ab")
    child = subprocess.Popen(
        argv, env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    stack.adopt(partial(_stop, child, out))
    return child


def _stop(child: subprocess.Popen, out, grace: float = 10.0) -> None:
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, sig)
        try:
            child.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue
    out.close()


def start_server(stack: Stack, port: int, say: Say) -> None:
    """`prefect server start` on 127.0.0.1:`port`; returns once /api/health answers."""
    if not port_free(port):
        raise RuntimeError(f"port {port} is in use (another Prefect server?); try --port")
    stack.api_url = f"http://127.0.0.1:{port}/api"
    stack.ui_url = f"http://127.0.0.1:{port}"
    env = prefect_env(stack.home, stack.api_url)
    argv = [_prefect(), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    say(f"starting the Prefect server on {stack.ui_url} (log: {stack.home / 'server.log'})")
    server = spawn(stack, argv, env, stack.home / "server.log")
    wait_healthy(stack.api_url, server, HEALTH_LIMIT_S)


def port_free(port: int) -> bool:
    """No one listens on `port`; closed connections still waiting on it (a stack just stopped)
    do not count, as the server binds over them."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_healthy(api_url: str, process: subprocess.Popen, limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Prefect server exited with code {process.returncode}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        time.sleep(0.5)
    raise RuntimeError(f"the Prefect server did not answer {api_url}/health in {limit:.0f} s")


def _prefect() -> str:
    return str(Path(sys.executable).with_name("prefect"))


def ensure_work_pool(
    api_url: str, pool: str = POOL, queues: Mapping = QUEUES, kind: str = "process", template=None
) -> None:
    """A work pool (the process pool unless told) and its queues with their concurrency
    limits, created or updated."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        temporary_settings(updates={PREFECT_API_URL: api_url}),
        get_client(sync_client=True) as client,
    ):
        with contextlib.suppress(ObjectAlreadyExists):
            client.create_work_pool(
                WorkPoolCreate(name=pool, type=kind, base_job_template=template or {})
            )
        for name, limit in queues.items():
            try:
                client.create_work_queue(name, concurrency_limit=limit, work_pool_name=pool)
            except ObjectAlreadyExists:
                queue = client.read_work_queue_by_name(name, work_pool_name=pool)
                client.update_work_queue(queue.id, concurrency_limit=limit)


def plan_deployments(
    config: Mapping[str, Any], env: Mapping[str, str]
) -> tuple[list[dict], list[str]]:
    """The deployments of a prefect.yaml that can run with `env`, their `{{ $VAR }}` filled in,
    and one line per deployment left out saying which settings it lacks."""
    chosen, skipped = [], []
    for entry in config["deployments"]:
        missing = [name for name in NEEDS.get(entry["name"], ()) if not env.get(name)]
        if missing:
            skipped.append(f"{entry['name']}: not deployed, {', '.join(missing)} not set")
            continue
        chosen.append(_filled(entry, env))
    return chosen, skipped


def _filled(value: Any, env: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        return {key: _filled(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [_filled(item, env) for item in value]
    if isinstance(value, str) and value.startswith("{{ $") and value.endswith("}}"):
        return env[value[4:-2].strip()]
    return value


def deploy(api_url: str, entries: list[dict]) -> list[str]:
    """Deploy `entries` (prefect.yaml shape) from this checkout; the names deployed.

    By module path, run in this checkout: Dask workers unpickle the flow module's objects by
    that name, which a flow loaded from its file path would not have."""
    from prefect.client.schemas.schedules import construct_schedule
    from prefect.deployments.runner import EntrypointType
    from prefect.flows import load_flow_from_entrypoint
    from prefect.settings import PREFECT_API_URL, temporary_settings

    deployed = []
    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        for entry in entries:
            loaded = load_flow_from_entrypoint(entry["entrypoint"])
            pool = entry["work_pool"]
            variables = {"working_dir": str(ROOT), **(pool.get("job_variables") or {})}
            schedules = [
                construct_schedule(cron=s["cron"], timezone=s.get("timezone"))
                for s in entry.get("schedules", [])
            ]
            loaded.to_deployment(
                name=entry["name"],
                work_pool_name=pool["name"],
                work_queue_name=pool.get("work_queue_name"),
                job_variables=variables,
                parameters=entry.get("parameters", {}),
                description=" ".join(entry.get("description", "").split()),
                tags=entry.get("tags"),
                schedules=schedules or None,
                entrypoint_type=EntrypointType.MODULE_PATH,
            ).apply()
            deployed.append(f"{loaded.name}/{entry['name']}")
    return deployed


@contextlib.contextmanager
def _quiet():
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def load_prefect_yamls(paths: tuple[Path, ...] = PREFECT_YAMLS) -> dict:
    """The deployments of every prefect.yaml of packshot, as one prefect.yaml."""
    entries = [d for path in paths for d in yaml.safe_load(path.read_text())["deployments"]]
    return {"deployments": entries}


def serve_files(stack: Stack, root: Path, port: int = 0) -> None:
    """A read-only HTTP server for `root` on 127.0.0.1, so the run's links to local outputs
    and Data Docs open from the UI (a browser will not follow file:// links from http)."""
    handler = partial(_QuietFiles, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, name="files", daemon=True).start()
    stack.files_url = f"http://127.0.0.1:{server.server_address[1]}"
    stack.adopt(server.shutdown)


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass


def start_worker(stack: Stack, env: Mapping[str, str], say: Say) -> None:
    argv = [_prefect(), "worker", "start", "--pool", POOL, "--type", "process"]
    say(f"starting a process worker on {POOL} (log: {stack.home / 'worker.log'})")
    spawn(stack, argv, env, stack.home / "worker.log")
