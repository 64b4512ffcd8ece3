"""The run's progress as the Prefect UI shows it: a progress artifact and a log line that move
as (original, preset) pairs finish."""

from __future__ import annotations

import time

from prefect import get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact

from tasks.reporting import progress_line


class RunProgress:
    """Started with the run's total; `advance` after each finished piece of work."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0
        self.start = time.perf_counter()
        self.logger = get_run_logger()
        self.artifact = create_progress_artifact(
            0.0, key="progress", description=f"0/{total} images · starting"
        )

    def advance(self, finished: int) -> None:
        self.done += finished
        line = progress_line(self.done, self.total, time.perf_counter() - self.start)
        self.logger.info(line)
        if self.artifact is not None:
            update_progress_artifact(
                self.artifact, 100.0 * self.done / max(self.total, 1), description=line
            )
