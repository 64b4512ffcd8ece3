"""Cold start: a fresh process's imports plus the model made ready, per precision.

    python -m benchmarks.coldstart [--runs 3]

Each run is a new Python process (as a Lambda environment, an ECS task or a flow run's Dask
worker is) that imports packshot's session module and builds the default model's session at
each precision this host can run: the seconds to import, and to have the session ready, with
the prepared graph and OpenVINO's compiled-model cache as `packshot models pull` leaves them
(warm cache), and with both removed first (what every process paid before they existed).
Figures go to benchmarks/out/coldstart.json; timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"

CHILD = """
import json, sys, time
start = time.perf_counter()
from schemas.settings import load_settings
from tasks import model_store
from tasks.imaging import sessions
imported = time.perf_counter()
home = load_settings().model.home.expanduser()
ref = model_store.resolve("isnet-imgly", home)
sessions.get_session(ref, 2, str(home), sys.argv[1])
ready = time.perf_counter()
print(json.dumps({"import_s": imported - start, "ready_s": ready - imported}))
"""


def one(precision: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, precision], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _clear_caches() -> None:
    from schemas.settings import load_settings
    from tasks import model_store
    from tasks.imaging.graph import PREPARED_SUFFIX

    home = load_settings().model.home.expanduser()
    ref = model_store.resolve("isnet-imgly", home)
    for suffix in (PREPARED_SUFFIX, PREPARED_SUFFIX + ".sha256"):
        Path(ref.path + suffix).unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    from tasks.imaging.sessions import BFLOAT16_OPENVINO, inference

    precisions = ["float32"] + (["bfloat16"] if inference("auto") == BFLOAT16_OPENVINO else [])
    results: dict[str, dict[str, list[dict[str, float]]]] = {}
    for precision in precisions:
        runs: dict[str, list[dict[str, float]]] = {"no_cache": [], "warm_cache": []}
        for _ in range(args.runs):
            _clear_caches()
            runs["no_cache"].append(one(precision))  # leaves the caches made
            runs["warm_cache"].append(one(precision))
        results[precision] = runs
        for kind, measured in runs.items():
            total = [m["import_s"] + m["ready_s"] for m in measured]
            print(f"{precision:9} {kind:10} import+ready {min(total):.2f}-{max(total):.2f} s")
    OUT.mkdir(exist_ok=True)
    (OUT / "coldstart.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
