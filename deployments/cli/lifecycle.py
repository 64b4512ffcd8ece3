"""What a command starts, how long it waits for it, and how it goes when the command does.

The embedded Prefect server is tied to the command (deployments/tied.py), so it dies with it
on SIGTERM and on `kill -9` alike; SIGTERM is turned into the same clean stop as Ctrl-C; a
flow run a killed command left `Running` is marked Crashed by the next command on the host.
Limits fit a loaded 2-core machine (benchmarks/RESULTS.md, "start-up under load").
"""

from __future__ import annotations

import contextlib
import encodings.idna  # noqa: F401 (urlopen's, else imported on the server's waiter thread)
import importlib
import importlib.util
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tasks.storage_edge import pid_alive

# Start-up limits. Prefect's own default for its embedded server is 20 s, counted in sleeps,
# which a run beside another one exceeded (issue 18); these leave room for a saturated host.
SERVER_START_S = 180
CLUSTER_START_S = 180

CLI_TAG = "packshot-cli"
_PID_TAG = "packshot-pid:"


class StartupError(RuntimeError):
    """One part of the command did not come up; the message says which, in one line."""


def pid_tag() -> str:
    """The tag that says which process on which host runs a flow run."""
    return f"{_PID_TAG}{socket.gethostname()}:{os.getpid()}"


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM stops the command the way Ctrl-C does: everything it started is stopped."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# What Dask's event loop imports as a local cluster starts, on its own thread.
CLUSTER_START_IMPORTS = (
    "tornado.platform.asyncio",
    "distributed.http.prometheus",
    "distributed.http.scheduler.prometheus.semaphore",
    "distributed.http.scheduler.prometheus.stealing",
    "distributed.diagnostics.websocket",
    "importlib_metadata._adapters",
)


def import_once() -> None:
    """Import, on this thread, what the background threads would otherwise import at the same
    time as it: CPython 3.11 can fail with "AST constructor recursion depth mismatch" when two
    threads import at once. The server's own modules load in its process, not here."""
    import distributed  # noqa: F401 (the cluster's thread)

    import flows.process_product_images  # noqa: F401

    for name in CLUSTER_START_IMPORTS:
        with contextlib.suppress(ImportError):  # another Dask may import other things
            importlib.import_module(name)


def import_quality_checks() -> None:
    """Great Expectations, which the run's quality phase needs: seconds of imports, done
    while the command waits for the server and the cluster rather than after the batches."""
    from tasks import quality

    quality.import_great_expectations()


class EmbeddedServer:
    """Prefect's embedded API server as a child process tied to this one (deployments.tied).

    Started as Prefect 3.9's SubprocessASGIServer starts it (uvicorn on the server's app
    factory, UI off), without importing the server into this process, and with a start-up
    limit of our own: Prefect's is 20 s, counted in sleeps, too short for a loaded machine.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/api"
        self.process: subprocess.Popen | None = None
        self._log = tempfile.TemporaryFile()

    def start(self) -> None:
        """Spawn the server, without importing Prefect here when this process has not yet:
        the server then reads the same environment and profile itself."""
        env = {
            **os.environ,
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
            # Block types are registered by the long-lived servers (`packshot ui`, `prefect
            # server start`) and by a block's own save; here, every start imported each
            # installed collection to hash them, on the command's clock (RESULTS.md).
            "PREFECT_API_BLOCKS_REGISTER_ON_START": "false",
            "PREFECT_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false",
        }
        if "prefect.settings" in sys.modules:  # settings this process changed travel along
            from prefect.settings import get_current_settings

            env.update(get_current_settings().to_environment_variables(exclude_unset=True))
        package = importlib.util.find_spec("prefect")
        assert package is not None and package.origin is not None
        args = [
            sys.executable, "-m", "deployments.tied", str(os.getpid()), "uvicorn",
            "--app-dir", str(Path(package.origin).parent.parent),
            "--factory", "prefect.server.api.server:create_app",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--log-level", "error", "--lifespan", "on",
        ]  # fmt: skip
        self.process = subprocess.Popen(args, env=env, stdout=self._log, stderr=self._log)

    def wait_ready(self, limit_s: float) -> None:
        """Return once the server answers; StartupError (one line) if it exits or is late."""
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise StartupError(f"the Prefect server exited ({self._last_line()})")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=5) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise StartupError(f"the Prefect server did not answer within {limit_s:.0f} s")

    def _last_line(self) -> str:
        self._log.seek(0)
        lines = self._log.read().decode(errors="replace").strip().splitlines()
        return lines[-1][:200] if lines else f"code {self.process.returncode}"

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
        self._log.close()


@contextlib.contextmanager
def prefect_api() -> Iterator[Callable[[], str]]:
    """The Prefect API for this command: PREFECT_API_URL when set, else one embedded server.

    The embedded server is started at once, before Prefect is imported here, and waited for
    in the background; yields a function that waits until it answers (StartupError after
    SERVER_START_S) and returns its URL. The URL (a free port chosen here) is exported before
    anything else starts, so child processes (Dask workers) inherit it: left to themselves,
    every worker process would start an embedded server of its own (seconds each, and a
    database per process). A URL set only in a Prefect profile is found once Prefect is
    imported; the server started meanwhile is stopped.
    """
    if url := os.environ.get("PREFECT_API_URL"):
        yield lambda: url
        return
    server = EmbeddedServer(_free_port())
    server.start()
    try:
        from prefect.settings import (
            PREFECT_API_URL,
            PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
            temporary_settings,
        )

        configured = PREFECT_API_URL.value()
    except BaseException:
        server.stop()
        raise
    if configured:
        server.stop()
        yield lambda: configured
        return
    os.environ["PREFECT_API_URL"] = server.url

    def ready() -> str:
        booting.result()
        return server.url

    with ThreadPoolExecutor(1, thread_name_prefix="prefect-server") as pool:
        try:
            booting = pool.submit(server.wait_ready, SERVER_START_S)
            # No flow-run heartbeats: they tell a server that a run's process lives, and this
            # server dies with that process; their thread is joined at every run's end.
            quiet = {PREFECT_API_URL: server.url, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
            with temporary_settings(updates=quiet):
                yield ready
                _drain_prefect_clients()
        finally:
            os.environ.pop("PREFECT_API_URL", None)
            server.stop()


def _free_port() -> int:
    """A free port for the embedded server, below the kernel's ephemeral range. One taken
    from that range and given back is what bind(0) may hand the next caller: the Dask
    scheduler starting beside the server took one, and the server's health check hit it."""
    from deployments.stack import port_free

    low = _ephemeral_floor()
    for port in random.sample(range(max(1024, low - 10000), low), 50):
        if port_free(port):
            return port
    raise StartupError("no free port for the Prefect server")


def _ephemeral_floor() -> int:
    """The lowest port the kernel hands out for bind(0)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 49152  # IANA's range, which macOS uses


def _drain_prefect_clients() -> None:
    """Send the logs and events still queued while the server is up: once it is gone their
    workers would retry against a closed port for a minute before the process could exit."""
    from prefect._internal.concurrency.services import QueueService

    QueueService.drain_all(timeout=10)


def mark_orphaned_runs() -> list[str]:
    """Mark Crashed the flow runs a packshot command on this host left Running or Pending
    when it was killed (its process is gone); their ids."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
        FlowRunFilterTags,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.states import Crashed

    alive = FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING])
    wanted = FlowRunFilter(
        state=FlowRunFilterState(type=alive), tags=FlowRunFilterTags(all_=[CLI_TAG])
    )
    marked = []
    with get_client(sync_client=True) as client:
        for run in client.read_flow_runs(flow_run_filter=wanted, limit=200):
            owner = _owner(run.tags)
            if owner is None or owner[0] != socket.gethostname() or pid_alive(owner[1]):
                continue
            message = f"the packshot command (pid {owner[1]}) that ran it was killed"
            client.set_flow_run_state(run.id, Crashed(message=message), force=True)
            marked.append(str(run.id))
    return marked


def _owner(tags: list[str]) -> tuple[str, int] | None:
    for tag in tags:
        if tag.startswith(_PID_TAG):
            host, _, pid = tag[len(_PID_TAG) :].rpartition(":")
            if pid.isdigit():
                return host, int(pid)
    return None
