"""The CLI's start-up: the Prefect server and the local cluster come up side by side."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import httpx
import pytest
from distributed import Client

from deployments.cli import prefect_api, warm_local_cluster
from schemas.settings import load_settings
from tasks.engine import QUICK_EXIT, WORKER_ENVIRON
from tests.support.images import product_photo


def _args(source: Path, **overrides: object) -> argparse.Namespace:
    values = {"source": str(source), "engine": "dask", "dask_address": None}
    return argparse.Namespace(**{**values, **overrides})


def _sessions_built() -> int:
    from tasks.imaging import sessions

    return sessions._cached_session.cache_info().currsize


def _timers(dask_worker) -> dict[str, float]:
    """A worker's periodic callbacks and their periods in ms (Client.run passes it by name)."""
    return {name: pc.callback_time for name, pc in dask_worker.periodic_callbacks.items()}


def _scheduler_timers(dask_scheduler) -> dict[str, float]:
    stealing = dask_scheduler.extensions["stealing"]._callback_time * 1000  # kept in seconds
    return {**_timers(dask_scheduler), "stealing": stealing}


def test_local_cluster_is_warm_and_no_larger_than_the_run(
    tmp_path: Path, model_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PACKSHOT_MODEL__HOME", str(model_home))
    monkeypatch.setenv("PACKSHOT_DASK__N_WORKERS", "4")
    # A cluster started earlier in this session with Dask's defaults left its pre-spawn
    # variables in this process's environment: packshot's workers must not take them.
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    for index in range(3):
        product_photo().save(tmp_path / f"p{index}.jpg")
    model = str(model_home / "custom" / "tiny-isnet.onnx")
    settings = load_settings()
    with warm_local_cluster(_args(tmp_path), model, 2, settings) as cluster:
        address = cluster()
        with Client(address) as client:
            workers = client.scheduler_info()["workers"]
            # 3 images for 4 workers: batches of 1 (not 2), so 3 batches on 3 of the 4 workers
            assert len(workers) == 3
            assert set(client.run(_sessions_built).values()) == {1}  # model loaded on joining
            # per-image buffers come from the heap, no profiler wakes the worker every 10 ms,
            # and no timer fires every 20 ms (see tasks.engine.LOCAL_CLUSTER_CONFIG)
            for name, value in WORKER_ENVIRON.items():
                assert set(client.run(os.environ.get, name).values()) == {value}
            for timers in client.run(_timers).values():
                assert "profile" not in timers
                assert (timers["tick"], timers["monitor"]) == (500, 5000)
            timers = client.run_on_scheduler(_scheduler_timers)
            assert (timers["tick"], timers["monitor"], timers["stealing"]) == (500, 5000, 1000)
    with pytest.raises(OSError):
        Client(address, timeout=2)  # closed with the command


def test_a_run_of_one_batch_on_one_worker_runs_it_inside_the_command(
    tmp_path: Path, model_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PACKSHOT_MODEL__HOME", str(model_home))
    monkeypatch.setenv("PACKSHOT_DASK__N_WORKERS", "1")
    monkeypatch.delenv(QUICK_EXIT, raising=False)
    product_photo().save(tmp_path / "p0.jpg")
    model = str(model_home / "custom" / "tiny-isnet.onnx")
    with warm_local_cluster(_args(tmp_path), model, 2, load_settings()) as cluster:
        address = cluster()
        with Client(address) as client:
            assert set(client.run(os.getpid).values()) == {os.getpid()}
            assert _sessions_built() >= 1  # the model was loaded here, for the worker
    assert os.environ.get(QUICK_EXIT) is None  # the command itself must not leave early
    extra = [tmp_path / "p1.jpg", tmp_path / "p2.jpg"]
    for path in extra:  # three photos in batches of 2: two batches, a worker process
        product_photo().save(path)
    with warm_local_cluster(_args(tmp_path), model, 2, load_settings()) as cluster:
        with Client(cluster()) as client:
            assert os.getpid() not in set(client.run(os.getpid).values())
    for path in extra:  # one batch again, and a process asked for
        path.unlink()
    monkeypatch.setenv("PACKSHOT_DASK__PROCESSES", "true")
    with warm_local_cluster(_args(tmp_path), model, 2, load_settings()) as cluster:
        with Client(cluster()) as client:
            assert os.getpid() not in set(client.run(os.getpid).values())


def test_no_local_cluster_for_lambda_or_a_named_scheduler(tmp_path: Path) -> None:
    settings = load_settings()
    with warm_local_cluster(_args(tmp_path, engine="lambda"), "x", 8, settings) as cluster:
        assert cluster() is None
    named = _args(tmp_path, dask_address="tcp://10.0.0.9:8786")
    with warm_local_cluster(named, "x", 8, settings) as cluster:
        assert cluster() == "tcp://10.0.0.9:8786"


def test_embedded_server_url_is_exported_before_it_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        with prefect_api() as ready:
            exported = os.environ["PREFECT_API_URL"]  # what workers spawned now inherit
            assert ready() == exported
            assert httpx.get(f"{exported}/health").status_code == 200
        assert "PREFECT_API_URL" not in os.environ
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{exported}/health")


def test_the_servers_port_is_none_that_bind_0_could_hand_out() -> None:
    """The Dask scheduler beside the server binds port 0: a port taken from the ephemeral
    range and given back could be handed to it before the server binds it."""
    from deployments.cli import lifecycle

    low = lifecycle._ephemeral_floor()
    assert all(1024 <= lifecycle._free_port() < low for _ in range(20))
