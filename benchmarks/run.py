"""packshot benchmarks: one session, the same photos and model file, figures and ratios.

    python -m benchmarks.run [--images 24] [--decode-images 240] [--rows 1000000]

A  onnxruntime alone on prepared tensors (the limit): best of 1 process x all cores and
   one process per core x 1 thread, on the graph packshot runs (the mask's nodes) at the
   precision packshot settles on this host (bfloat16 where the CPU has it); measured again
   after each run of C. For reference: the same graph in float32 on onnxruntime's CPU
   provider, and the file as stored (float16 weights, all twelve outputs) on that provider
B  rembg's own batch path: one session reused across the folder, remove() + PNG, as `rembg p`,
   on onnxruntime's CPU provider, as `pip install rembg[cpu]` installs it
C  `packshot process --preset transparent` end to end (embedded default), per image: the batch
   phase (first submission to last result) and the whole command; c_fixed_s is the rest
   (server, cluster and model start-up, quality checks, report, shutdown). C runs --c-runs
   times (4), each between two measurements of A: this VM drifts by up to 20% within minutes,
   so each run is compared with the A measured either side of it, and the ratios are averaged;
   single runs of the same code land up to 9% apart, so two runs left the mean ~3% either way
D  the validation-only path (decode, inspect, preset rules) against plain Pillow decoding,
   both over all cores, taking turns three times
E  orchestration per image: the flow with a no-op model minus the same batches run directly,
   in a fresh process started as a local worker is (its environment, the session built
   first); the flow twice, the direct run before, between and after, each averaged; 192 images
F  a catalog query (counts by reason and day) over synthetic catalog rows with DuckDB
and the peak memory per worker process. Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from schemas.settings import Precision, load_settings
from tasks import model_store

REPO = Path(__file__).resolve().parent.parent
SAMPLES = sorted((REPO / "samples").glob("*.jpg"))
MODEL = "isnet-imgly"
PACKSHOT = str(Path(sys.executable).with_name("packshot"))


def replicate(folder: Path, count: int) -> list[Path]:
    """`count` distinct JPEGs made from the sample photos (shifted 1 px per copy)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        photo = Image.open(SAMPLES[index % len(SAMPLES)]).convert("RGB")
        shift = index // len(SAMPLES)
        photo = photo.crop((shift, 0, photo.width, photo.height))
        path = folder / f"photo-{index:04d}.jpg"
        photo.save(path, quality=92)
        paths.append(path)
    return paths


def _session(threads: int, precision: Precision = "auto"):
    from tasks.imaging.sessions import get_session

    home = load_settings().model.home.expanduser()
    return get_session(model_store.resolve(MODEL, home), threads, str(home), precision)


def _warm(threads: int) -> None:
    _session(threads)


def _ort_share(args: tuple[list[str], int], precision: Precision = "auto") -> float:
    paths, threads = args
    session = _session(threads, precision)
    tensors = [session.prepare(Image.open(p).convert("RGB")) for p in paths]
    return _time_inference(session.infer, tensors)


def _time_inference(infer, tensors: list[np.ndarray]) -> float:
    infer(tensors[0])  # warm-up
    start = time.perf_counter()
    for tensor in tensors:
        infer(tensor)
    return time.perf_counter() - start


def _plain_file(paths: list[str], threads: int) -> float:
    """onnxruntime on the model file as stored (float16 weights), same options and tensors."""
    import onnxruntime as ort

    from tasks.imaging.sessions import session_options

    prepare = _session(threads, "float32").prepare
    ref = model_store.resolve(MODEL, load_settings().model.home.expanduser())
    plain = ort.InferenceSession(ref.path, session_options(threads), ["CPUExecutionProvider"])
    name = plain.get_inputs()[0].name
    tensors = [prepare(Image.open(p).convert("RGB")) for p in paths]
    return _time_inference(lambda t: plain.run(["output"], {name: t}), tensors)


def bench_a(paths: list[Path]) -> dict:
    """The limit: the best of 1 process x all cores and 1 process per core x 1 thread, on the
    graph packshot runs at the precision it settles on here; the same graph in float32 and the
    file as stored, both on onnxruntime's CPU provider, are timed too."""
    from tasks.imaging.sessions import inference

    cores = os.cpu_count() or 1
    names = [str(p) for p in paths]
    one = _ort_share((names, cores)) / len(paths)
    per_core = _process_per_core(names, cores) / len(paths)
    return {
        "inference": inference("auto"),
        "a_one_process_s": one,
        "a_process_per_core_s": per_core,
        "a_float32_s": _ort_share((names, cores), "float32") / len(paths),
        "a_file_as_stored_s": _plain_file(names, cores) / len(paths),
        "a_s": min(one, per_core),
    }


def _process_per_core(names: list[str], cores: int) -> float:
    """Seconds for one process per core, 1 thread each, sharing the images."""
    with ProcessPoolExecutor(cores) as pool:
        list(pool.map(_warm, [1] * cores))
        start = time.perf_counter()
        list(pool.map(_ort_share, [(names[i::cores], 1) for i in range(cores)]))
        return time.perf_counter() - start


def bench_a_again(paths: list[Path], results: dict) -> float:
    """A's best configuration once more, seconds per image."""
    cores = os.cpu_count() or 1
    names = [str(p) for p in paths]
    if results["a_one_process_s"] <= results["a_process_per_core_s"]:
        return _ort_share((names, cores)) / len(paths)
    return _process_per_core(names, cores) / len(paths)


def bench_c_between_a(photos: list[Path], work: Path, runs: int, results: dict) -> dict:
    """C `runs` times, each followed by A again; each C is divided by the mean of the A
    measured just before and just after it, and those ratios are averaged."""
    a_runs, c_runs = [results["a_s"]], []
    for index in range(runs):
        c_runs.append(bench_c(work / "photos", work / f"c-out-{index}", len(photos)))
        a_runs.append(bench_a_again(photos, results))
    ratios = [c["c_batch_s"] / ((a_runs[i] + a_runs[i + 1]) / 2) for i, c in enumerate(c_runs)]
    means = ("c_batch_s", "c_command_s", "c_fixed_s")
    return {
        "a_runs_s": a_runs,
        "a_s": sum(a_runs) / len(a_runs),
        "c_batch_runs_s": [c["c_batch_s"] for c in c_runs],
        **{key: sum(c[key] for c in c_runs) / runs for key in means},
        "c_processed": min(c["c_processed"] for c in c_runs),
        "peak_worker_rss_mb": max(c["peak_worker_rss_mb"] for c in c_runs),
        "c_over_a_runs": ratios,
        "c_over_a": sum(ratios) / runs,
    }


def bench_b(paths: list[Path], out: Path) -> float:
    from rembg import new_session, remove

    home = load_settings().model.home.expanduser()
    os.environ["U2NET_HOME"] = str(home)
    session = new_session(
        "dis_custom",
        model_path=str(model_store.model_path(MODEL, home)),
        providers=["CPUExecutionProvider"],  # rembg[cpu]; with OpenVINO it would pick that
    )
    remove(Image.open(paths[0]), session=session)  # warm-up, as a long-running folder job is
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for path in paths:  # rembg p: read, remove, write PNG
        remove(Image.open(path), session=session).save(out / f"{path.stem}.png")
    return (time.perf_counter() - start) / len(paths)


def run_cli(source: Path, dest: Path, *extra: str, env: dict[str, str] | None = None) -> dict:
    start = time.perf_counter()
    done = subprocess.run(
        [PACKSHOT, "process", str(source), str(dest), "--json", *extra],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    summary["wall_s"] = wall
    return summary


def bench_c(source: Path, dest: Path, count: int) -> dict[str, float]:
    summary = run_cli(source, dest, "--preset", "transparent")
    from tasks.catalog import query

    peak = query(
        summary["catalog"],
        "SELECT worker, max(worker_peak_rss_mb) AS mb FROM images GROUP BY worker",
    ).to_pylist()
    return {
        "c_batch_s": summary["timings"]["batches_s"] / count,
        "c_command_s": summary["wall_s"] / count,
        "c_fixed_s": summary["wall_s"] - summary["timings"]["batches_s"],
        "c_processed": summary["processed"],
        "peak_worker_rss_mb": max(row["mb"] for row in peak),
        "workers": len(peak),
    }


def _plain_decode(path: str) -> None:
    with Image.open(path) as image:
        image.load()


def _validate(path: str) -> str:
    from schemas.presets import get_preset
    from tasks.imaging.check import check_bytes

    result = check_bytes(Path(path).read_bytes(), get_preset("amazon-main"), max_pixels=60_000_000)
    return result.reason or result.status


def bench_d(paths: list[Path], rounds: int = 3) -> dict[str, float]:
    """Each path `rounds` times, plain and validate taking turns: one pass lasts about a
    second, shorter than this VM's drift, so a single pass of each can land 20% apart."""
    names = [str(p) for p in paths]
    work = {"plain": _plain_decode, "validate": _validate}
    seconds = dict.fromkeys(work, 0.0)
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        for function in work.values():
            list(pool.map(function, names[:8]))  # warm the workers' imports
        for _ in range(rounds):
            for label, function in work.items():
                start = time.perf_counter()
                list(pool.map(function, names, chunksize=8))
                seconds[label] += time.perf_counter() - start
    rates = {f"d_{label}_per_s": rounds * len(names) / spent for label, spent in seconds.items()}
    rates["d_ratio"] = rates["d_validate_per_s"] / rates["d_plain_per_s"]
    return rates


def noop_model(path: Path, side: int = 1024) -> Path:
    """IS-Net's interface with next to no compute: the mask is the input's first channel."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Slice", ["input", "starts", "ends", "axes"], ["output"])],
        "noop",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, side, side])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, side, side])],
        initializer=[
            helper.make_tensor(n, TensorProto.INT64, [1], [v])
            for n, v in (("starts", 0), ("ends", 1), ("axes", 1))
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def bench_e(source: Path, work: Path, count: int, runs: int = 2) -> dict:
    from schemas.presets import get_preset
    from schemas.run import BatchJob
    from tasks.pending import output_keys

    home = work / "noop-home"
    model = noop_model(home / "models" / "custom" / "noop.onnx")
    keys = sorted(p.name for p in source.iterdir())
    ref = model_store.resolve(str(model), home)
    batch = load_settings().batch_size
    chunks = [keys[index : index + batch] for index in range(0, len(keys), batch)]
    jobs = [
        BatchJob(
            run_id="direct",
            batch=number,
            source=str(source),
            source_keys=chunk,
            presets=["transparent"],
            todo=[["transparent"]] * len(chunk),
            output_keys=[
                {"transparent": key} for key in output_keys(chunk, get_preset("transparent"))
            ],
            destination=str(work / "e-direct"),
            catalog=str(work / "e-direct" / "catalog"),
            model=ref,
            model_home=str(home),
            onnx_threads=os.cpu_count() or 1,
            max_pixels=60_000_000,
        )
        for number, chunk in enumerate(chunks)
    ]
    env = dict(os.environ, PACKSHOT_MODEL__HOME=str(home), PACKSHOT_DASK__N_WORKERS="1")
    direct = [_fresh_worker_process(_direct_batches, jobs)]
    flow = []
    # direct, flow, direct, flow, direct: one flow run alone landed up to 2x off
    for index in range(runs):
        summary = run_cli(
            source,
            work / f"e-flow-{index}",
            "--preset",
            "transparent",
            "--model",
            str(model),
            env=env,
        )
        flow.append(summary["timings"]["batches_s"])
        direct.append(_fresh_worker_process(_direct_batches, jobs))
    direct_s, flow_s = sum(direct) / len(direct) / count, sum(flow) / runs / count
    return {
        "e_flow_batch_runs_s": [seconds / count for seconds in flow],
        "e_flow_batch_s": flow_s,
        "e_direct_s": direct_s,
        "e_overhead_s": flow_s - direct_s,
    }


def _fresh_worker_process(function, *args):
    """`function(*args)` in a new process started as packshot's local workers are."""
    from tasks.engine import WORKER_ENVIRON

    saved = {name: os.environ.get(name) for name in WORKER_ENVIRON}
    os.environ.update(WORKER_ENVIRON)  # glibc reads them as the process starts
    try:
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            return pool.submit(function, *args).result()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name)
            else:
                os.environ[name] = value


def _direct_batches(jobs) -> float:
    """What the Dask task runs (batch and catalog part), without Prefect or Dask; seconds.
    The session is built first, as a worker builds it when it joins."""
    from tasks.batch import process_batch
    from tasks.imaging.sessions import get_session

    get_session(jobs[0].model, jobs[0].onnx_threads, jobs[0].model_home)
    start = time.perf_counter()
    for job in jobs:
        process_batch(job)
    return time.perf_counter() - start


def bench_f(work: Path, rows: int) -> dict[str, float]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from schemas.catalog import CATALOG_SCHEMA
    from tasks.catalog import query

    rng = np.random.default_rng(7)
    days, parts = 30, 50
    statuses = np.array(["processed", "rejected", "failed"])
    reasons = np.array(
        [None, "too_small", "not_an_image", "corrupt", "no_foreground"], dtype=object
    )
    per_part = rows // parts
    for part in range(parts):
        status = statuses[rng.choice(3, per_part, p=[0.85, 0.13, 0.02])]
        reason = np.where(status == "rejected", reasons[rng.integers(1, 5, per_part)], None)
        keys = pa.array(np.char.add(f"p{part}/k", np.arange(per_part).astype(str)))
        when = np.datetime64("2026-10-01T00:00:00", "us") + np.timedelta64(part % days, "D")
        columns = {
            "run_id": pa.array([f"run-{part}"] * per_part),
            "batch": pa.array(np.arange(per_part) // 8),
            "source_key": keys,
            "source_uri": keys,
            "status": pa.array(status),
            "reason": pa.array(reason, pa.string()),
            "preset": pa.array(["amazon-main"] * per_part),
            "model": pa.array(["isnet-imgly"] * per_part),
            "model_sha256": pa.array(["b6e8" * 16] * per_part),
            "warnings": pa.array([[]] * per_part, pa.list_(pa.string())),
            "output_keys": pa.array([[]] * per_part, pa.list_(pa.string())),
            "processed_at": pa.array(np.full(per_part, when), pa.timestamp("us", tz="UTC")),
        }
        table = pa.table(
            {f.name: columns.get(f.name, pa.nulls(per_part, f.type)) for f in CATALOG_SCHEMA},
            schema=CATALOG_SCHEMA.remove_metadata(),
        )
        folder = work / "catalog" / f"date=2026-10-{1 + part % days:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, folder / f"part-{part:04d}.parquet")
    sql = (
        "SELECT date, status, reason, count(*) AS images FROM images "
        "GROUP BY ALL ORDER BY date, status, reason"
    )
    query(str(work / "catalog"), sql)  # warm the OS cache, as an analyst's second query is
    start = time.perf_counter()
    result = query(str(work / "catalog"), sql)
    seconds = time.perf_counter() - start
    total = sum(result.column("images").to_pylist())
    return {"f_s": seconds, "f_rows": total}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--decode-images", type=int, default=240)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--e-images", type=int, default=192, help="E: enough batches to see the steady state"
    )
    parser.add_argument("--c-runs", type=int, default=4, help="C runs, each followed by A")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out")
    parser.add_argument("--only", default="ABCDEF", help="which figures, e.g. AC")
    args = parser.parse_args(argv)
    model_store.pull(MODEL, load_settings().model.home.expanduser())
    work = Path(tempfile.mkdtemp(prefix="packshot-bench-"))
    photos = replicate(work / "photos", args.images)
    results: dict = {"images": args.images, "cores": os.cpu_count() or 1}
    steps = {
        "A": lambda: results.update(bench_a(photos)),
        "B": lambda: results.update(b_s=bench_b(photos, work / "b-out")),
        "C": lambda: results.update(
            bench_c_between_a(photos, work, args.c_runs, results)
            if "a_s" in results
            else bench_c(work / "photos", work / "c-out", args.images)
        ),
        "D": lambda: results.update(bench_d(replicate(work / "decode", args.decode_images))),
        "E": lambda: results.update(
            bench_e(_photos(work / "e-photos", args.e_images), work, args.e_images)
        ),
        "F": lambda: results.update(bench_f(work, args.rows)),
    }
    for name in args.only:
        print(f"running {name}...", file=sys.stderr, flush=True)
        before = set(results)
        steps[name]()
        for key in sorted(set(results) - before):
            print(f"  {key} = {results[key]}", file=sys.stderr, flush=True)
    _ratios(results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    for key, value in results.items():
        print(f"{key:34s} {_shown(value)}")
    shutil.rmtree(work, ignore_errors=True)


def _photos(folder: Path, count: int) -> Path:
    replicate(folder, count)
    return folder


def _shown(value: object) -> str:
    if isinstance(value, list):
        return " ".join(f"{v:.4f}" for v in value)
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _ratios(r: dict) -> None:
    if "a_s" in r and "c_batch_s" in r:
        r["C/A (target <= 1.10)"] = r.get("c_over_a", r["c_batch_s"] / r["a_s"])
        r["C/A whole command"] = r["c_command_s"] / r["a_s"]
    if "b_s" in r and "c_batch_s" in r:
        r["B/C (target >= 1.25)"] = r["b_s"] / r["c_batch_s"]
    if "d_ratio" in r:
        r["D validate/plain (target >= 0.70)"] = r["d_ratio"]
    if "e_overhead_s" in r and "c_batch_s" in r:
        r["E/C (target < 0.01)"] = r["e_overhead_s"] / r["c_batch_s"]
    if "f_s" in r:
        r["F seconds (target < 1)"] = r["f_s"]


if __name__ == "__main__":
    main()
