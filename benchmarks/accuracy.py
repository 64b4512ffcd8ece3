"""Cutout accuracy of every offline model on composites with exact alpha.

    python -m benchmarks.accuracy --limit 300 --model u2netp --model u2net
    python -m benchmarks.accuracy --model isnet-imgly@float32 --model isnet-imgly@bfloat16

Each `--model` is NAME[@PRECISION] (precision as PACKSHOT_MODEL__PRECISION takes it; default
float32). The composites come from benchmarks/composites.py; every predicted mask is cached
beside them, so a rerun (or a longer one) only computes what is new and the confidence can be
recalibrated from the cached masks without the models (benchmarks/calibrate.py). The per-image
scores and a summary overall and per background kind go to benchmarks/accuracy-results.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.composites import KINDS, Composite, build
from tasks.imaging.accuracy import MatteScore, score, summarise

CACHE = Path("~/.cache/packshot/bench").expanduser()
RESULTS = Path(__file__).with_name("accuracy-results.json")
DEFAULT_MODELS = (
    "u2netp",
    "u2net",
    "isnet-imgly-small",
    "isnet-imgly@float32",
    "isnet-imgly@bfloat16",
)


def _label(model: str) -> tuple[str, str]:
    name, _, precision = model.partition("@")
    return name, precision or "float32"


def predict_masks(model: str, composites: list[Composite], threads: int) -> dict[int, float]:
    """Cache a mask per composite for `model`; returns the seconds each new one took."""
    from schemas.settings import PackshotSettings
    from tasks import model_store
    from tasks.imaging.sessions import get_session

    name, precision = _label(model)
    folder = CACHE / "masks" / f"{name}@{precision}"
    folder.mkdir(parents=True, exist_ok=True)
    todo = [c for c in composites if not (folder / f"{c.index:04d}.png").is_file()]
    if not todo:
        return {}
    home = PackshotSettings().model.home.expanduser()
    ref = model_store.resolve(name, home)
    session = get_session(ref, threads, str(home), precision)  # type: ignore[arg-type]
    images = CACHE / "composites-v1"
    seconds = {}
    for composite in todo:
        image = Image.open(images / composite.image).convert("RGB")
        start = time.perf_counter()
        mask = session.predict(image)[0]
        seconds[composite.index] = time.perf_counter() - start
        mask.save(folder / f"{composite.index:04d}.png")
    return seconds


def score_model(model: str, composites: list[Composite]) -> list[dict]:
    """Per-composite scores of `model`'s cached masks."""
    name, precision = _label(model)
    folder = CACHE / "masks" / f"{name}@{precision}"
    truths = CACHE / "composites-v1"
    rows = []
    for composite in composites:
        mask = np.asarray(Image.open(folder / f"{composite.index:04d}.png").convert("L"))
        truth = np.asarray(Image.open(truths / composite.alpha))
        rows.append(
            {
                "model": f"{name}@{precision}",
                "index": composite.index,
                "kind": composite.kind,
                "subject": composite.subject,
                **score(mask, truth).as_dict(),
            }
        )
    return rows


def summary(rows: list[dict]) -> dict[str, dict]:
    """Per model: overall and per background kind."""
    out: dict[str, dict] = {}
    for model in sorted({r["model"] for r in rows}):
        mine = [r for r in rows if r["model"] == model]
        scores = [MatteScore(r["iou"], r["alpha_mae"], r["boundary_f"]) for r in mine]
        kinds = {
            kind: summarise(
                [
                    MatteScore(r["iou"], r["alpha_mae"], r["boundary_f"])
                    for r in mine
                    if r["kind"] == kind
                ]
            )
            for kind in KINDS
        }
        out[model] = {"overall": summarise(scores), "by_kind": kinds}
    return out


def paired(rows: list[dict], a: str, b: str) -> dict[str, float] | None:
    """`b` against `a` on the composites both scored: mean IoU, MAE and boundary F deltas."""
    first = {r["index"]: r for r in rows if r["model"] == a}
    second = {r["index"]: r for r in rows if r["model"] == b}
    shared = sorted(first.keys() & second.keys())
    if not shared:
        return None
    delta = {
        f"{metric}_delta": float(np.mean([second[i][metric] - first[i][metric] for i in shared]))
        for metric in ("iou", "alpha_mae", "boundary_f")
    }
    worst = min(second[i]["iou"] - first[i]["iou"] for i in shared)
    return {"n": len(shared), **delta, "worst_iou_delta": float(worst)}


def _merge(previous: list[dict], new: list[dict]) -> list[dict]:
    seen = {(r["model"], r["index"]) for r in new}
    return [r for r in previous if (r["model"], r["index"]) not in seen] + new


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=300, help="composites per model")
    parser.add_argument("--model", action="append", help="NAME[@PRECISION]; repeatable")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    composites = build(CACHE, args.limit)
    previous = json.loads(args.results.read_text())["rows"] if args.results.is_file() else []
    rows: list[dict] = []
    timing = {}
    for model in args.model or DEFAULT_MODELS:
        seconds = predict_masks(model, composites, args.threads)
        if seconds:
            timing[model] = float(np.median(list(seconds.values())))
        rows += score_model(model, composites)
    merged = _merge(previous, rows)
    report = {
        "summary": summary(merged),
        "bfloat16_vs_float32": paired(merged, "isnet-imgly@float32", "isnet-imgly@bfloat16"),
        "median_mask_s_this_run": timing,
        "rows": merged,
    }
    args.results.write_text(json.dumps(report, indent=1))
    for model, numbers in report["summary"].items():
        overall = numbers["overall"]
        print(
            f"{model:<24} n={overall['n']:>4} IoU {overall['iou']:.4f} "
            f"MAE {overall['alpha_mae']:.4f} BF {overall['boundary_f']:.4f} "
            f"bad {overall['share_iou_below_0_90']:.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
