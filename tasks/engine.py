"""Where batches run: a Dask cluster, local or existing, behind prefect-dask's task runner."""

from __future__ import annotations

import logging
import os

from prefect_dask import DaskTaskRunner


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def local_workers(requested: int | None) -> int:
    """Worker processes of a local cluster: as asked, else half the cores (each gets 2 threads)."""
    return requested or max(1, cpu_count() // 2)


def onnx_threads(requested: int | None, workers: int) -> int:
    """Intra-op threads per worker so that processes x threads <= cores."""
    return requested or max(1, cpu_count() // workers)


def batch_task_runner(address: str | None, n_workers: int) -> DaskTaskRunner:
    """A task runner on the scheduler at `address`, or on a new local cluster."""
    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={
            "n_workers": n_workers,
            "threads_per_worker": 1,  # one batch at a time per process; onnxruntime threads inside
            "processes": True,
            "dashboard_address": None,
            "silence_logs": logging.WARNING,  # the run's own progress lines are what users read
        },
    )
