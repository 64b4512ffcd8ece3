"""Start-up costs (issue 17): what a fresh install pays before its first image, and a
command's fixed cost (the whole command minus its batch phase).

    python -m benchmarks.startup [--runs 3] [--photo samples/product.jpg]

Each figure is measured in a fresh process. `rembg (fresh numba cache)` imports rembg with an
empty NUMBA_CACHE_DIR, as on a fresh install: that is what packshot no longer pays.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _timed(
    argv: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT
) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, check=True)
    return time.perf_counter() - start, done.stdout


def imports(label: str, code: str, numba_cache: bool = True) -> float:
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as cache:
        if not numba_cache:
            env["NUMBA_CACHE_DIR"] = cache
        seconds, _ = _timed([sys.executable, "-c", code], env)
    print(f"{label:<42} {seconds:6.2f} s")
    return seconds


def fixed_cost(photo: Path, tree: Path = ROOT) -> tuple[float, float]:
    """(whole command, its batch phase) of `packshot process` over one photo, with the code of
    `tree` (this checkout, or a baseline's) on the same interpreter and packages."""
    with tempfile.TemporaryDirectory() as work:
        source, dest = Path(work, "in"), Path(work, "out")
        source.mkdir()
        shutil.copy(photo, source)
        command = [sys.executable, "-c", "from deployments.cli import main; main()"]
        env = {**os.environ, "PYTHONPATH": str(tree)}
        # `python -c` puts its working folder first on the path: the tree's own
        seconds, out = _timed([*command, "process", str(source), str(dest), "--json"], env, tree)
    batches = json.loads(out.strip().splitlines()[-1])["timings"]["batches_s"]
    label = f"packshot process, 1 photo ({'this tree' if tree == ROOT else tree.name})"
    print(f"{label:<42} {seconds:6.2f} s, batches {batches:.2f} s, fixed {seconds - batches:.2f} s")
    return seconds, batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--photo", type=Path, default=ROOT / "samples" / "product.jpg")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a checkout of an earlier commit (git worktree add DIR COMMIT): its fixed cost is "
        "measured in turns with this tree's, and the ratio printed",
    )
    parser.add_argument("--skip-imports", action="store_true", help="fixed costs only")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if not args.skip_imports:
        imports("rembg (fresh numba cache)", "import rembg", numba_cache=False)
        imports("rembg (numba cache warm)", "import rembg")
        flow = "import flows.process_product_images, tasks.batch, tasks.imaging.sessions"
        imports("the flow, the batch and the IS-Net session", flow)
    fixed: dict[Path, list[float]] = {}
    for _ in range(args.runs):
        for tree in ([args.baseline.resolve()] if args.baseline else []) + [ROOT]:
            seconds, batches = fixed_cost(args.photo, tree)
            fixed.setdefault(tree, []).append(seconds - batches)
    if args.baseline:
        mine, theirs = fixed[ROOT], fixed[args.baseline.resolve()]
        ratio = (sum(mine) / len(mine)) / (sum(theirs) / len(theirs))
        print(f"fixed cost, this tree / baseline (means of {args.runs}): {ratio:.2f}")


if __name__ == "__main__":
    main()
