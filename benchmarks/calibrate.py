"""Fit the confidence model on the accuracy benchmark and say how well it separates.

    python -m benchmarks.calibrate [--results benchmarks/accuracy-results.json]

For every (model, composite) the accuracy benchmark scored, the signals are computed from the
composite and that model's cached mask; a cutout is bad when its IoU is under 0.90. An
L2-regularised logistic regression is fitted on all of them and written to
schemas/confidence.json; the figures reported (AUROC, and the share of outputs a threshold
sends to review to catch 90% of the bad ones) are 5-fold cross-validated, folds split by
composite so that no image is both fitted and judged.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.accuracy import CACHE, RESULTS
from schemas.confidence import CONFIDENCE_FILE, ConfidenceModel
from tasks.imaging.confidence import features, signals

FEATURES = [
    "uncertain_share",
    "edge_width",
    "log_pieces",
    "largest_piece_share",
    "background_inside",
    "product_coloured_holes",
    "edge_fringe",
    "frame_contact",
    "share_deviation",
    "log_background_spread",
    "log_product_contrast",
]
GOOD_IOU, RECALL = 0.90, 0.90
AT_THRESHOLDS = (0.3, 0.5, 0.7, 0.9)  # presets' review thresholds worth comparing
CALIBRATION = Path(__file__).with_name("calibration-results.json")


def signal_table(rows: list[dict], *, fresh: bool = False) -> list[dict[str, float]]:
    """The signals of every scored cutout, cached beside the masks (`fresh`: recompute, as
    after a change to tasks/imaging/confidence.py)."""
    index = {c["index"]: c for c in json.loads((CACHE / "composites-v1/index.json").read_text())}
    cache_file = CACHE / "signals.json"
    cached = {} if fresh or not cache_file.is_file() else json.loads(cache_file.read_text())
    table = []
    for row in rows:
        key = f"{row['model']}/{row['index']}"
        if key not in cached:
            composite = index[row["index"]]
            image = Image.open(CACHE / "composites-v1" / composite["image"]).convert("RGB")
            mask = Image.open(CACHE / "masks" / row["model"] / f"{row['index']:04d}.png")
            values = signals(np.asarray(image), np.asarray(mask))
            cached[key] = {name: float(value) for name, value in values.items()}
        table.append(cached[key])
    cache_file.write_text(json.dumps(cached))
    return table


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1.0) -> tuple[np.ndarray, float]:
    """Logistic regression by Newton's method; x standardised, y 1 = good."""
    w, b = np.zeros(x.shape[1]), 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
        grad_w, grad_b = x.T @ (p - y) + l2 * w, float(np.sum(p - y))
        s = p * (1 - p)
        hess = np.zeros((x.shape[1] + 1, x.shape[1] + 1))
        hess[:-1, :-1] = x.T @ (x * s[:, None]) + l2 * np.eye(x.shape[1])
        hess[:-1, -1] = hess[-1, :-1] = x.T @ s
        hess[-1, -1] = s.sum() + 1e-9
        step = np.linalg.solve(hess, np.append(grad_w, grad_b))
        w, b = w - step[:-1], b - step[-1]
        if np.abs(step).max() < 1e-8:
            break
    return w, b


def auroc(bad_score: np.ndarray, bad: np.ndarray) -> float:
    """Probability a random bad cutout scores above a random good one (ties count half)."""
    pos, neg = bad_score[bad], bad_score[~bad]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).mean()
    ties = (pos[:, None] == neg[None, :]).mean()
    return float(greater + 0.5 * ties)


def review_share(
    confidence: np.ndarray, bad: np.ndarray, recall: float = RECALL
) -> tuple[float, float]:
    """The threshold under which `recall` of the bad cutouts fall, and the share it sends."""
    threshold = float(np.quantile(confidence[bad], recall)) if bad.any() else 0.0
    return threshold, float(np.mean(confidence <= threshold))


def _by_kind(rows: list[dict], confidence: np.ndarray, good: np.ndarray, threshold: float) -> dict:
    """Per background kind: bad cutouts, and the shares the threshold catches and sends."""
    out = {}
    for kind in sorted({r["kind"] for r in rows}):
        mine = np.array([r["kind"] == kind for r in rows])
        bad, sent = ~good[mine], confidence[mine] <= threshold
        out[kind] = {
            "n": int(mine.sum()),
            "bad": int(bad.sum()),
            "caught": float(sent[bad].mean()) if bad.any() else None,
            "sent": float(sent.mean()),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--skip", action="append", default=[], help="leave this model out")
    parser.add_argument("--fresh", action="store_true", help="recompute the cached signals")
    args = parser.parse_args(argv)
    rows = [r for r in json.loads(args.results.read_text())["rows"] if r["model"] not in args.skip]
    stub = ConfidenceModel(
        features=FEATURES,
        mean=[0.0] * len(FEATURES),
        scale=[1.0] * len(FEATURES),
        weights=[0.0] * len(FEATURES),
        intercept=0.0,
    )
    table = signal_table(rows, fresh=args.fresh)
    x = np.array([features(s, stub) for s in table])
    good = np.array([r["iou"] >= GOOD_IOU for r in rows])
    mean, scale = x.mean(0), x.std(0) + 1e-9
    z = (x - mean) / scale
    folds = np.array([r["index"] % 5 for r in rows])
    held_out = np.zeros(len(rows))
    for fold in range(5):
        train = folds != fold
        w, b = fit(z[train], good[train].astype(float))
        held_out[~train] = 1.0 / (1.0 + np.exp(-(z[~train] @ w + b)))
    w, b = fit(z, good.astype(float))
    area = auroc(-held_out, ~good)
    threshold, share = review_share(held_out, ~good)
    threshold_75, share_75 = review_share(held_out, ~good, recall=0.75)
    models = sorted({r["model"] for r in rows})
    model = ConfidenceModel(
        features=FEATURES,
        mean=mean.round(6).tolist(),
        scale=scale.round(6).tolist(),
        weights=w.round(6).tolist(),
        intercept=round(b, 6),
        good_iou=GOOD_IOU,
        fitted_on=f"benchmarks/accuracy.py, {len(rows)} cutouts of {', '.join(models)}, "
        f"{datetime.now(UTC):%Y-%m-%d}",
        auroc=round(area, 4),
    )
    CONFIDENCE_FILE.write_text(model.model_dump_json(indent=1) + "\n")
    per_model = {}
    for name in models:
        mine = np.array([r["model"] == name for r in rows])
        per_model[name] = {
            "n": int(mine.sum()),
            "bad": int((~good[mine]).sum()),
            "auroc": auroc(-held_out[mine], ~good[mine]),
        }
    report = {
        "n": len(rows),
        "bad": int((~good).sum()),
        "auroc_cv": area,
        "threshold_for_90pct_of_bad": threshold,
        "share_sent_to_review": share,
        "threshold_for_75pct_of_bad": threshold_75,
        "share_sent_to_review_75": share_75,
        "by_kind": _by_kind(rows, held_out, good, threshold),
        "at_thresholds": {
            str(t): {
                "caught": float(np.mean(held_out[~good] < t)),
                "sent": float(np.mean(held_out < t)),
            }
            for t in AT_THRESHOLDS
        },
        "per_model": per_model,
        "weights": dict(zip(FEATURES, w.round(3).tolist(), strict=True)),
    }
    CALIBRATION.write_text(json.dumps(report, indent=1))
    print(json.dumps({k: v for k, v in report.items() if k != "per_model"}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
