"""The run's progress as the Prefect UI shows it: a progress artifact and a log line that move
as (original, preset) pairs finish; on a terminal, the same line redrawn in place."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from prefect import get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.futures import as_completed

from tasks.reporting import progress_line


class RunProgress:
    """Started with the run's total; `advance` as (original, preset) pairs finish. The log line
    and the artifact move at most once every `EVERY_S` seconds, and always at the end."""

    EVERY_S = 1.0  # often enough that nothing looks stalled, rarely enough for a 10,000-image run

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0
        self.start = time.perf_counter()
        self._shown = 0.0
        self.logger = get_run_logger()
        self.artifact = create_progress_artifact(
            0.0, key="progress", description=f"0/{total} images · starting"
        )

    def advance(self, finished: int) -> None:
        self.done = min(self.total, self.done + max(0, finished))
        now = time.perf_counter()
        if now - self._shown < self.EVERY_S and self.done < self.total:
            return
        self._shown = now
        line = progress_line(self.done, self.total, now - self.start)
        self.logger.info(line, extra={PROGRESS: True, "final": self.done >= self.total})
        if self.artifact is not None:
            update_progress_artifact(
                self.artifact, 100.0 * self.done / max(self.total, 1), description=line
            )


PROGRESS = "packshot_progress"  # the log record field that marks a progress line


class TerminalBar(logging.Filter):
    """On a console handler writing to a terminal: progress lines redraw one line in place
    (the run's log keeps every one), and any other line clears the bar before it prints."""

    def __init__(self, stream) -> None:
        super().__init__()
        self.stream, self.drawn = stream, False

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, PROGRESS, False):
            end = "\n" if getattr(record, "final", False) else ""
            self.stream.write(f"\r\x1b[2K{record.getMessage()}{end}")
            self.stream.flush()
            self.drawn = not end
            return False
        if self.drawn:
            self.stream.write("\r\x1b[2K")
            self.drawn = False
        return True


def attach_terminal_bar() -> bool:
    """Give the root logger's console handlers a `TerminalBar` when they write to a terminal;
    whether any did (a pipe or a file keeps one line per update)."""
    attached = False
    for handler in logging.getLogger().handlers:
        stream = getattr(handler, "stream", None)
        if isinstance(handler, logging.StreamHandler) and stream is not None and stream.isatty():
            if not any(isinstance(f, TerminalBar) for f in handler.filters):
                handler.addFilter(TerminalBar(stream))
            attached = True
    return attached


def topic(run_id: str) -> str:
    """The Dask pub/sub topic a run's batches announce finished images on."""
    return f"packshot-progress-{run_id}"


def image_publisher(run_id: str, batch: int) -> Callable[[int], None] | None:
    """Inside a Dask worker: a function that tells the flow an image of `batch` finished (with
    its number of rows), as a Dask worker event; None anywhere else (Lambda, tests), where
    batches report as they end."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return None
    return lambda rows: worker.log_event(topic(run_id), {"batch": batch, "rows": rows})


def gather_batches(
    runner, futures: dict, progress: RunProgress, run_id: str, release: Callable
) -> dict[int, list]:
    """Each batch's rows as its future completes, moving `progress` image by image meanwhile
    (from the batches' pub/sub messages where the runner has a Dask client). Prefect calls stay
    on this thread; two helper threads only wait and queue what they see."""
    events: queue.SimpleQueue = queue.SimpleQueue()
    threading.Thread(target=_watch, args=(futures, events), daemon=True).start()
    client = getattr(runner, "client", None) if hasattr(runner, "_client") else None
    if client is not None:  # handlers run on the client's own thread: they only queue
        client.subscribe_topic(topic(run_id), lambda event: events.put(("image", event[1])))
    rows_by_batch: dict[int, list] = {}
    counted: dict[int, int] = {}
    try:
        while len(rows_by_batch) < len(futures):
            kind, payload = events.get()
            if kind == "image" and payload["batch"] not in rows_by_batch:
                counted[payload["batch"]] = counted.get(payload["batch"], 0) + payload["rows"]
                progress.advance(payload["rows"])
            elif kind == "batch":
                batch = futures[payload]
                rows_by_batch[batch] = payload.result()
                release(payload)
                progress.advance(len(rows_by_batch[batch]) - counted.get(batch, 0))
    finally:
        if client is not None:
            client.unsubscribe_topic(topic(run_id))
    return rows_by_batch


def _watch(futures: dict, events: queue.SimpleQueue) -> None:
    for future in as_completed(list(futures)):
        events.put(("batch", future))
