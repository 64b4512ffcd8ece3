"""Where batches run: a Dask cluster, local or existing, behind prefect-dask's task runner.

Each worker process loads the model once, when it joins (`ModelWorkerPlugin`), and sizes
onnxruntime's intra-op threads from its own host: that host's cores divided by the task threads
of every worker process on it, so processes x threads never exceeds the cores, whatever the
machine that planned the run looks like.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import parent_process
from typing import Any

import dask
from distributed import Client, LocalCluster, WorkerPlugin
from distributed.comm import get_address_host
from distributed.core import Status
from prefect.plugins import load_prefect_collections
from prefect.task_runners import ThreadPoolTaskRunner
from prefect_dask import DaskTaskRunner

from schemas.models import ModelRef
from schemas.settings import Precision

PLUGIN_NAME = "packshot-model"


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def local_workers(requested: int | None, batches: int | None = None) -> int:
    """Worker processes of a local cluster: as asked, else half the cores (each gets 2 threads),
    and never more than the run's `batches` when they are known."""
    workers = requested or max(1, cpu_count() // 2)
    return workers if batches is None else min(workers, batches)


def local_processes(requested: bool | None, workers: int, batches: int | None) -> bool:
    """Whether a local cluster's workers get processes of their own: as asked, else unless
    the run is one batch on one worker. There a worker process is a second interpreter
    importing Prefect, Dask and the flow before the only batch (a quarter of a one-photo
    command's CPU, RESULTS.md), and inside the command it shares them. A longer run keeps
    the process: a worker lost costs only its batch, and the flow's memory stays its own."""
    if requested is not None:
        return requested
    return workers > 1 or batches is None or batches > 1


def balanced_batch_size(images: int, batch_size: int, workers: int) -> int:
    """`batch_size`, or smaller where `images` would otherwise leave some of `workers` idle."""
    return max(1, min(batch_size, -(-images // max(1, workers))))


def onnx_threads(requested: int | None, workers: int) -> int:
    """Intra-op threads per worker so that processes x threads <= cores."""
    return requested or max(1, cpu_count() // workers)


def batch_task_runner(
    address: str | None, n_workers: int, *, warm: WarmModel | None = None, processes: bool = True
) -> DaskTaskRunner:
    """A task runner on the scheduler at `address`, or on a new local cluster (its workers in
    processes of their own or in this one).

    With `warm`, every worker loads that model once as it joins (see `ModelWorkerPlugin`).
    """
    if address:
        return _WarmDaskTaskRunner(warm, address=address)
    local = {"cluster_class": "distributed.LocalCluster"}
    return _WarmDaskTaskRunner(warm, **local, cluster_kwargs=_local_cluster(n_workers, processes))


# How packshot's local clusters differ from Dask's defaults. A worker's memory is steady (one
# model, per-image buffers of a few to 12 MB), and every cycle spent beside the model is taken
# from it on a machine whose cores the model fills:
# - glibc: Dask sets MALLOC_TRIM_THRESHOLD_=65536 to hand memory back sooner, which also fixes
#   the mmap threshold at 128 KiB, so every per-image buffer was mapped and page-faulted afresh
#   (~30,000 faults per image; side work 0.135 s against 0.087 s per image with a no-op model).
#   Buffers under 32 MiB now come from the heap, and up to 512 MiB of freed heap is kept for
#   the next image: 0.058-0.073 s against 0.074-0.089 s per image in fresh processes (8 passes
#   each), same peak RSS.
# - Dask's statistical profiler wakes the worker's event loop every 10 ms to walk every
#   thread's stack, holding the GIL each time: without it the event loop takes 0.02 of a
#   core here instead of 0.05. Nothing reads it locally (no dashboard).
# - Timers for tasks that last seconds, not milliseconds: the event-loop health check every
#   500 ms instead of 20 ms (as Dask's own cluster tests run; stalls over 3 s are still
#   reported), the system monitor's dashboard metrics every 5 s instead of 0.5 s (memory
#   limits keep their own 100 ms monitor), work stealing every 1 s instead of 0.1 s. During
#   a run the CLI process (scheduler and nanny) took 0.013 of a core instead of 0.043, the
#   worker's event loop 0.008 instead of 0.023.
# An external cluster keeps its own settings.
# - The worker processes of a local cluster end with its command: see ModelWorkerPlugin's
#   teardown (QUICK_EXIT).
# A worker inside the command (processes=False) gets the timers only: glibc reads MALLOC_
# variables as a process starts, and the command's allocator keeps glibc's dynamic mmap
# threshold, which setting MALLOC_TRIM_THRESHOLD_ (as Dask does for its workers) turns off.
QUICK_EXIT = "PACKSHOT_QUICK_EXIT"
WORKER_ENVIRON = {
    "MALLOC_TRIM_THRESHOLD_": str(512 * 2**20),
    "MALLOC_MMAP_THRESHOLD_": str(32 * 2**20),
    QUICK_EXIT: "1",
}
LOCAL_CLUSTER_CONFIG = {
    **{f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in WORKER_ENVIRON.items()},
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "500ms",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.scheduler.work-stealing-interval": "1s",
    # A worker process that imports onnxruntime and loads a model on a saturated 2-core host
    # needs more than Dask's 30 s to connect (benchmarks/RESULTS.md, start-up under load).
    "distributed.comm.timeouts.connect": "120s",
}


@contextmanager
def packshot_workers(processes: bool = True) -> Iterator[None]:
    """Dask settings for the local cluster started inside (see LOCAL_CLUSTER_CONFIG)."""
    # A nanny prefers this process's environment to its config, and writes the variables
    # there as it spawns: a cluster started earlier with Dask's defaults would otherwise win.
    if processes:
        os.environ.update(WORKER_ENVIRON)
    with dask.config.set(LOCAL_CLUSTER_CONFIG):
        yield


def _local_cluster(n_workers: int, processes: bool) -> dict[str, Any]:
    return {
        "n_workers": n_workers,
        "threads_per_worker": 1,  # one batch at a time per worker; onnxruntime threads inside
        "processes": processes,
        "dashboard_address": None,
        "silence_logs": logging.WARNING,  # the run's own progress lines are what users read
    }


def start_local_cluster(n_workers: int, warm: WarmModel, processes: bool = True) -> LocalCluster:
    """A local cluster whose workers have loaded `warm`'s model.

    The CLI starts it while the embedded Prefect server boots, then hands its address to the
    flow: worker start-up and model loading overlap the server's instead of following it.
    Workers inside this process (`processes=False`) import nothing the caller has not: see
    `import_for_workers`. The caller closes it.
    """
    with packshot_workers(processes):
        cluster = LocalCluster(**_local_cluster(n_workers, processes))
    try:
        with Client(cluster) as client:
            prepare_workers(client, warm)
    except BaseException:
        cluster.close()
        raise
    return cluster


def host_threads(host: str, workers: Mapping[str, Mapping[str, Any]], cores: int) -> int:
    """Intra-op threads for a worker on `host`: cores // task threads of all workers there.

    `workers` is the scheduler's view (address -> identity with `host` and `nthreads`).
    """
    busy = sum(int(w.get("nthreads", 1)) for w in workers.values() if w.get("host") == host)
    return max(1, cores // max(1, busy))


@dataclass(frozen=True)
class WarmModel:
    """The model every worker should load once, the threads a user pinned (None: per host) and
    the precision asked for (auto: per host)."""

    model: ModelRef
    model_home: str
    requested_threads: int | None = None
    precision: Precision = "auto"


class _WarmDaskTaskRunner(DaskTaskRunner):
    """prefect-dask's runner that registers `ModelWorkerPlugin` once its client is up."""

    def __init__(self, warm: WarmModel | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.warm = warm

    def __enter__(self):
        processes = self.cluster_kwargs.get("processes", True)
        with packshot_workers(processes):  # a local cluster starts here
            super().__enter__()
        if self.warm is not None:
            try:
                prepare_workers(self.client, self.warm)
            except BaseException:  # a worker could not load the model: close what we opened
                self.__exit__(None, None, None)
                raise
        return self

    def duplicate(self):
        twin = super().duplicate()
        twin.warm = self.warm
        return twin


class ModelWorkerPlugin(WorkerPlugin):
    """On each worker: settle the ONNX threads from the worker's own host, then load the model.

    Holds plain values only (a `WarmModel`), so it pickles to any worker; the session is
    built inside the worker process and cached there for every batch it runs.
    """

    name = PLUGIN_NAME

    def __init__(self, warm: WarmModel) -> None:
        self.warm = warm

    async def setup(self, worker) -> None:
        threads = self.warm.requested_threads
        if threads is None:
            identity = await worker.scheduler.identity()
            host = get_address_host(worker.address)
            threads = host_threads(host, identity["workers"], cpu_count())
        from tasks.imaging import sessions  # onnxruntime and rembg: in workers only

        sessions.pin_threads(threads)
        # Build the session off the event loop so the worker keeps heart-beating meanwhile.
        await asyncio.to_thread(_load, self.warm, threads)

    async def teardown(self, worker) -> None:
        """A local cluster's worker closing with its command leaves, once Prefect's logs and
        events of its last batch are sent, without the interpreter's finalization: the
        command would wait for the model and every module to be freed (RESULTS.md)."""
        local_process = os.environ.get(QUICK_EXIT) == "1" and parent_process() is not None
        if not local_process or worker.status != Status.closing:
            return  # a worker inside the command or an external cluster's, or a plugin
            # replaced by the next run's
        await asyncio.to_thread(_drain_prefect)
        atexit.register(_leave, getattr(worker, "_workdir", None))


def _drain_prefect() -> None:
    from prefect._internal.concurrency.services import QueueService

    QueueService.drain_all(timeout=10)


def _leave(workdir) -> None:
    """The last exit handler to be registered runs first: the scratch folder goes, then the
    process, before the others run and before finalization."""
    if workdir is not None:
        workdir.release()
    os._exit(0)


def import_for_workers() -> None:
    """What a worker imports as it loads the model (`_load`). A caller with a worker inside
    its process calls it first, on its own thread: that worker loads the model on a thread of
    its own, and CPython 3.11 can fail ("AST constructor recursion depth mismatch") when two
    threads import at once."""
    importlib.import_module("flows.process_product_images")
    load_prefect_collections()
    importlib.import_module("tasks.imaging.sessions")
    from PIL import Image

    Image.preinit()  # the decoders a batch's first Image.open would import


def _load(warm: WarmModel, threads: int) -> None:
    # What the first batch would otherwise load, loaded while the worker joins: the flow's
    # module, which the task's pickled run context refers to (the batch task's module and
    # Prefect's task engine come with it), and Prefect's collections, which Prefect imports
    # at its first block lookup (prefect-aws, boto3): ~0.75 s out of the first batch here.
    # No warm-up inference: in float32 a worker's first two runs took ~0.45 s more in all
    # (1.80 and 1.94 s here, against 1.61-1.75 s after), but a blank one cost 3.6 CPU-seconds
    # while the Prefect server was booting on the same cores, which made the whole command
    # slower. In bfloat16 the first run takes ~0.1 s more (0.97 s against 0.82-0.93 s after).
    import_for_workers()
    from tasks.imaging import sessions

    sessions.get_session(warm.model, threads, warm.model_home, warm.precision)


def prepare_workers(client: Client, warm: WarmModel) -> None:
    """Register the model plugin: present workers load now, later ones when they join."""
    client.register_plugin(ModelWorkerPlugin(warm))


def forget_result(future: Any) -> None:
    """Let Dask drop a gathered batch's result. While the flow holds a Dask future its key
    stays in the worker's memory, and when that worker dies the scheduler recomputes every
    key it held: every batch that worker ever ran, delivered or not."""
    wrapped = getattr(future, "wrapped_future", None)
    release = getattr(wrapped, "release", None)
    if callable(release):  # a Lambda engine's thread future has nothing to release
        release()


def lambda_task_runner(concurrency: int) -> ThreadPoolTaskRunner:
    """Batches as Lambda invocations: each thread waits on one call, so threads = concurrency."""
    return ThreadPoolTaskRunner(max_workers=concurrency)
