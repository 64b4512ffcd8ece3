"""Run a Python module as a helper tied to the process that started it.

`python -m deployments.tied PARENT_PID MODULE ARGS...` runs MODULE as `__main__` and exits,
with SIGTERM (then for good 10 s later), as soon as its parent is gone, however the parent
died: `kill -9` of a command leaves no embedded Prefect server behind holding its port and
database.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
import threading
import time

POLL_S = 0.25  # how soon an orphan notices
GRACE_S = 10.0  # how long it may take to stop cleanly once told to


def main() -> None:
    parent, module, *rest = sys.argv[1:]
    threading.Thread(target=_watch, args=(int(parent),), daemon=True, name="tied").start()
    sys.argv = [module, *rest]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_S)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(GRACE_S)
    os._exit(1)


if __name__ == "__main__":
    main()
