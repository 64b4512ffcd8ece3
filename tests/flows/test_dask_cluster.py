"""The flow on an existing Dask cluster: a real `dask scheduler` and two `dask worker` processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import Client

from flows.process_product_images import process_product_images
from tasks import catalog
from tasks.engine import cpu_count, host_threads
from tests.support.images import encoded, product_photo
from tests.support.s3 import free_port

DASK = Path(sys.executable).with_name("dask")
REPO = Path(__file__).resolve().parents[2]


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [str(DASK), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: teardown ends the nannies' children too
    )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture
def dask_cluster(prefect_harness, model_home: Path) -> Iterator[str]:
    """A scheduler and two single-threaded worker processes on 127.0.0.1; its address."""
    from prefect.settings import PREFECT_API_URL

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ, PREFECT_API_URL=str(PREFECT_API_URL.value()))
    env["PACKSHOT_MODEL__HOME"] = str(model_home)
    # client.run ships this module's probe functions by reference: workers must import `tests`
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    scheduler = _start(
        ["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], env
    )
    workers = _start(
        [
            "worker",
            address,
            *("--nworkers", "2", "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard"),
        ],
        env,
    )
    try:
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=90)
        yield address
    finally:
        _stop(workers)
        _stop(scheduler)


def _worker_state(dask_worker) -> dict[str, object]:
    """Runs inside each worker (client.run passes it): what the model plugin left there."""
    from tasks.engine import PLUGIN_NAME
    from tasks.imaging import sessions

    warm = dask_worker.plugins[PLUGIN_NAME].warm
    built = sessions._cached_session.cache_info().misses
    # the plugin and every batch ask with one key; a second build would show as a second miss
    label = sessions.inference(warm.precision)
    session = sessions._cached_session(
        warm.model, sessions.pinned_threads(), warm.model_home, label
    )
    return {
        "pid": os.getpid(),
        "pinned": sessions.pinned_threads(),
        "built": built,
        "rebuilt": sessions._cached_session.cache_info().misses - built,
        "threads": session.inner_session.get_session_options().intra_op_num_threads,
    }


def test_flow_runs_its_batches_on_an_existing_dask_cluster(
    dask_cluster: str,
    tmp_path: Path,
    model_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PACKSHOT_MODEL__HOME", str(model_home))
    monkeypatch.delenv("PACKSHOT_MODEL__ONNX_THREADS", raising=False)
    source = tmp_path / "in"
    source.mkdir()
    for index in range(7):
        photo = product_photo((700 + 10 * index, 560))
        (source / f"item-{index}.jpg").write_bytes(encoded(photo))
    (source / "notes.txt").write_text("not a photo")

    state = process_product_images(
        source=str(source),
        destination=str(tmp_path / "out"),
        model=str(model_home / "custom" / "tiny-isnet.onnx"),
        batch_size=2,
        dask_address=dask_cluster,
        return_state=True,
    )
    assert state.is_completed(), state.message
    summary = state.result()
    assert (summary.seen, summary.processed, summary.rejected, summary.failed) == (8, 7, 1, 0)
    assert len(list((tmp_path / "out" / "catalog").glob("date=*/*.parquet"))) == 4

    with Client(dask_cluster, timeout=30) as client:
        states = client.run(_worker_state)
    assert len(states) == 2
    # each worker shares this host with one other single-threaded worker: cores // 2 threads,
    # whatever the planning process (which sees no workers of its own) would have picked
    expected = max(1, cpu_count() // 2)
    assert expected == host_threads(
        "127.0.0.1",
        {"a": {"host": "127.0.0.1", "nthreads": 1}, "b": {"host": "127.0.0.1", "nthreads": 1}},
        cpu_count(),
    )
    for worker in states.values():
        assert worker["pinned"] == expected and worker["threads"] == expected
        # the model was loaded once, however many batches ran there, with the pinned threads
        assert worker["built"] == 1 and worker["rebuilt"] == 0

    # the rows were made in the worker processes, not in this one
    ran = catalog.query(str(tmp_path / "out" / "catalog"), "SELECT DISTINCT worker FROM images")
    pids = {int(w.rsplit(":", 1)[1]) for w in ran.column("worker").to_pylist()}
    assert pids and pids <= {w["pid"] for w in states.values()} and os.getpid() not in pids


def test_host_threads_counts_only_the_workers_on_the_same_host() -> None:
    workers = {
        "tcp://10.0.0.1:1": {"host": "10.0.0.1", "nthreads": 2},
        "tcp://10.0.0.1:2": {"host": "10.0.0.1", "nthreads": 2},
        "tcp://10.0.0.2:1": {"host": "10.0.0.2", "nthreads": 1},
    }
    assert host_threads("10.0.0.1", workers, cores=16) == 4  # 2 processes x 2 tasks each
    assert host_threads("10.0.0.2", workers, cores=16) == 16
    assert host_threads("10.0.0.1", workers, cores=2) == 1  # never below one thread
