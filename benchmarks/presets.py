"""Several presets from one mask: what rendering four outputs per photo costs over one.

    python -m benchmarks.presets [--images 24] [--rounds 2]

G  `packshot process` on the same photos with one preset (amazon-main) and with four
   (amazon-main, studio-shadow, tabletop-scene, transparent), taking turns (1, 4, 1, 4, ...) in
   one session so the VM's drift falls on both: the batch phase per photo (the marginal seconds of
   a run, its fixed start-up left out), their ratio, and each run's peak worker memory. The model
   runs once per photo either way; the extra presets are composition and encoding on the side
   thread. Figures go to benchmarks/out/presets.json; timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from benchmarks.run import replicate, run_cli
from tasks.catalog import query

ONE = ["amazon-main"]
FOUR = ["amazon-main", "studio-shadow", "tabletop-scene", "transparent"]
OUT = Path(__file__).resolve().parent / "out"


def one_run(source: Path, dest: Path, presets: list[str]) -> dict[str, float]:
    summary = run_cli(source, dest, "--preset", ",".join(presets))
    peak = query(summary["catalog"], "SELECT max(worker_peak_rss_mb) AS mb FROM images")
    return {
        "batch_s_per_photo": summary["timings"]["batches_s"] / summary["originals"],
        "command_s": summary["wall_s"],
        "peak_worker_rss_mb": peak.to_pylist()[0]["mb"],
        "outputs": summary["processed"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    runs: dict[str, list[dict[str, float]]] = {"one": [], "four": []}
    with tempfile.TemporaryDirectory(prefix="packshot-presets-") as tmp:
        work = Path(tmp)
        source = work / "photos"
        replicate(source, args.images)
        for index in range(args.rounds):
            for name, presets in (("one", ONE), ("four", FOUR)):
                runs[name].append(one_run(source, work / f"{name}-{index}", presets))
                print(name, json.dumps(runs[name][-1]))
    one = sum(r["batch_s_per_photo"] for r in runs["one"]) / args.rounds
    four = sum(r["batch_s_per_photo"] for r in runs["four"]) / args.rounds
    memory = max(r["peak_worker_rss_mb"] for r in runs["four"]) / max(
        r["peak_worker_rss_mb"] for r in runs["one"]
    )
    result = {
        "runs": runs,
        "one_preset_s_per_photo": round(one, 3),
        "four_presets_s_per_photo": round(four, 3),
        "g_ratio": round(four / one, 3),
        "g_memory_ratio": round(memory, 3),
    }
    OUT.mkdir(exist_ok=True)
    (OUT / "presets.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
