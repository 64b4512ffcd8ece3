"""What a command starts, how long it waits for it, and how it goes when the command does.

The embedded Prefect server is tied to the command (deployments/tied.py), so it dies with it
on SIGTERM and on `kill -9` alike; SIGTERM is turned into the same clean stop as Ctrl-C; a
flow run a killed command left `Running` is marked Crashed by the next command on the host.
Limits fit a loaded 2-core machine (benchmarks/RESULTS.md, "start-up under load").
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

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


def import_once() -> None:
    """Import, on this thread, what the background threads would otherwise import at the same
    time as it: CPython 3.11 can fail with "AST constructor recursion depth mismatch" when two
    threads import at once."""
    import distributed  # noqa: F401
    import prefect.server.api.server  # noqa: F401

    import flows.process_product_images  # noqa: F401


def _tied_server_class():
    from prefect.server.api.server import SubprocessASGIServer

    class TiedServer(SubprocessASGIServer):
        """Prefect's embedded server, run through deployments.tied so it dies with us."""

        def _run_uvicorn_command(self):
            import subprocess

            # As Prefect 3.9's own method, with deployments.tied in front of uvicorn.
            return subprocess.Popen(args=_tied(self._uvicorn_args()), env=self._server_env())

        def _uvicorn_args(self) -> list[str]:
            import prefect

            return [
                "--app-dir", str(prefect.__module_path__.parent),
                "--factory", "prefect.server.api.server:create_app",
                "--host", "127.0.0.1", "--port", str(self.port),
                "--log-level", "error", "--lifespan", "on",
            ]  # fmt: skip

        def _server_env(self) -> dict[str, str]:
            from prefect.settings import get_current_settings

            return {
                **os.environ,
                "PREFECT_UI_ENABLED": "0",
                "PREFECT__SERVER_EPHEMERAL": "1",
                "PREFECT__SERVER_FINAL": "1",
                **get_current_settings().to_environment_variables(exclude_unset=True),
            }

    return TiedServer


def _tied(uvicorn_args: list[str]) -> list[str]:
    return [sys.executable, "-m", "deployments.tied", str(os.getpid()), "uvicorn", *uvicorn_args]


@contextlib.contextmanager
def prefect_api() -> Iterator[Callable[[], str]]:
    """The Prefect API for this command: PREFECT_API_URL when set, else one embedded server.

    The embedded server is booted on a background thread; yields a function that waits until
    it answers (StartupError after SERVER_START_S) and returns its URL. The URL (a free port
    chosen here) is exported at once, so child processes started meanwhile (Dask workers)
    inherit it: left to themselves, every worker process would start an embedded server of
    its own (seconds each, and a database per process).
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():
        url = PREFECT_API_URL.value()
        yield lambda: url
        return
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    os.environ["PREFECT_API_URL"] = url
    server = _tied_server_class()(port)

    def ready() -> str:
        try:
            booting.result()
        except Exception as exc:
            why = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
            raise StartupError(f"the Prefect server did not come up: {why}") from None
        if server.api_url != url:  # the port was taken meanwhile; workers know the old one
            raise StartupError(f"the Prefect server moved from {url} to {server.api_url}")
        return url

    with ThreadPoolExecutor(1, thread_name_prefix="prefect-server") as pool:
        booting = pool.submit(server.start, SERVER_START_S)
        try:
            with temporary_settings(updates={PREFECT_API_URL: url}):
                yield ready
                _drain_prefect_clients()
        finally:
            os.environ.pop("PREFECT_API_URL", None)
            with contextlib.suppress(Exception):
                booting.result()
            server.stop()  # a server still booting is stopped once it is up


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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
            if owner is None or owner[0] != socket.gethostname() or _alive(owner[1]):
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
