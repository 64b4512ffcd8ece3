"""The `packshot ui` stack's answer time (issue 17): one photo submitted to its warm stack until
the output is written and until the run is Completed, against the photo's model time.

    python -m benchmarks.stack [--runs 3] [--photo samples/product.jpg]

Starts `packshot ui` with its own home, submits one run per round through the Prefect API (as
the form, an S3 event's bridge and the schedule do), each to a fresh destination so no run is
a no-op, and polls every 0.1 s. Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tasks.catalog import query

ROOT = Path(__file__).resolve().parent.parent
DEPLOYMENT = "process-product-images/manual"


def start_stack(work: Path, files: Path) -> tuple[subprocess.Popen, dict[str, str], float]:
    """`packshot ui` and its ready file's URLs, and how long it took to get ready."""
    ready = work / "ready.json"
    argv = [str(Path(sys.executable).with_name("packshot")), "ui", "--port", "4391"]
    argv += ["--home", str(work / "home"), "--files", str(files), "--ready-file", str(ready)]
    log = (work / "ui.log").open("w")
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    while not ready.exists():
        if process.poll() is not None:
            raise SystemExit(f"packshot ui exited {process.returncode}: see {work / 'ui.log'}")
        time.sleep(0.2)
    return process, json.loads(ready.read_text()), time.perf_counter() - start


def one_photo(api: str, source: Path, dest: Path) -> dict[str, float]:
    deployment = httpx.get(f"{api}/deployments/name/{DEPLOYMENT}", timeout=30).json()
    body = {"parameters": {"source": str(source), "destination": str(dest)}}
    start = time.perf_counter()
    for _ in range(30):  # the server answers 503 while its database is busy: ask again
        reply = httpx.post(
            f"{api}/deployments/{deployment['id']}/create_flow_run", json=body, timeout=30
        )
        if reply.status_code != 503:
            break
        time.sleep(0.2)
    run_id = reply.raise_for_status().json()["id"]
    written = None
    while True:
        if written is None and any((dest / "amazon-main").glob("*.*")):
            written = time.perf_counter() - start
        state = httpx.get(f"{api}/flow_runs/{run_id}", timeout=30).json()["state"]["type"]
        if state in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            break
        time.sleep(0.1)
    done = time.perf_counter() - start
    if state != "COMPLETED" or written is None:
        raise SystemExit(f"run {run_id} ended {state}, output written: {written is not None}")
    model = query(str(dest / "catalog"), "SELECT max(mask_ms) AS ms FROM images").to_pylist()
    model_s = model[0]["ms"] / 1000.0
    return {"written_s": written, "completed_s": done, "model_s": model_s}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--photo", type=Path, default=ROOT / "samples" / "product.jpg")
    args = parser.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="packshot-stack-") as tmp:
        work, files = Path(tmp), Path(tmp, "files")
        (files / "photos").mkdir(parents=True)
        shutil.copy(args.photo, files / "photos")
        process, urls, ready_s = start_stack(work, files)
        print(f"packshot ui ready in {ready_s:.1f} s")
        try:
            for index in range(args.runs):
                got = one_photo(urls["api"], files / "photos", files / f"out-{index}")
                print(
                    f"run {index + 1}: written {got['written_s']:.1f} s, completed "
                    f"{got['completed_s']:.1f} s, model {got['model_s']:.2f} s: written "
                    f"{got['written_s'] - got['model_s']:.1f} s plus the model time"
                )
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(60)


if __name__ == "__main__":
    main()
