"""Scale: the real flow over many small generated photos, on a folder and on S3 (moto's server).

    python -m benchmarks.scale [--sizes 1000 10000] [--catalog-rows 100000]
                               [--query-rows 1000000] [--stores local s3]

For each size and store: `packshot process --preset transparent` with the no-op model of
benchmarks.run (the flow, Dask, Prefect, storage and catalog are real; only the model's compute is
gone) against a destination whose catalog already holds --catalog-rows rows of other photos.
Reported per phase (listing, planning, batches, quality checks, near-duplicate search, report,
catalog writes), per image, with the flow process's peak memory, and the orchestration per image
against a direct in-process run of the same batches. Then `packshot catalog query` (a grouped
count) over a --query-rows catalog on S3: seconds and the query process's peak memory.
Figures go to benchmarks/out/scale.json; timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
from PIL import Image

from benchmarks.run import PACKSHOT, noop_model
from tasks.storage import Storage

OUT = Path(__file__).resolve().parent / "out"
BATCH = 64
REAL_MODEL_S = 0.8  # IS-Net per image in bfloat16 on this project's 2 vCPUs (RESULTS.md)


def photo(index: int, side: int = 96) -> bytes:
    """A small distinct product shot: a bright box on a dark floor (the no-op model's mask is
    the bright part), placed and sized by `index` so no two files or pHashes repeat."""
    rng = np.random.default_rng(index)
    pixels = np.full((side, side, 3), 30, np.uint8)
    w, h = rng.integers(side // 4, side // 2, 2)
    x, y = rng.integers(4, side - w - 4), rng.integers(4, side - h - 4)
    pixels[y : y + h, x : x + w] = rng.integers(170, 255, 3, dtype=np.uint8)
    pixels[rng.integers(0, side, 40), rng.integers(0, side, 40)] = rng.integers(0, 255, 3)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=90)
    return out.getvalue()


def write_photos(url: str, count: int) -> None:
    store = Storage(url)
    for index in range(count):
        store.write(f"batch{index // 1000:03d}/p{index:06d}.jpg", photo(index))


def seed_catalog(url: str, rows: int, parts: int = 10) -> None:
    """`rows` processed rows of other photos, as earlier runs would have left them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from schemas.catalog import CATALOG_SCHEMA

    rng = np.random.default_rng(11)
    store = Storage(url)
    per_part = rows // parts
    for part in range(parts):
        keys = np.char.add(f"old/{part}/k", np.arange(per_part).astype(str))
        hashes = [f"{int(v):016x}" for v in rng.integers(0, 2**63, per_part, dtype=np.uint64)]
        columns = {
            "run_id": pa.array([f"seed-{part}"] * per_part),
            "batch": pa.array(np.arange(per_part) // BATCH),
            "source_key": pa.array(keys),
            "source_uri": pa.array(np.char.add("s3://elsewhere/", keys)),
            "status": pa.array(["processed"] * per_part),
            "sha256": pa.array([f"{part:04x}{i:060x}" for i in range(per_part)]),
            "phash": pa.array(hashes),
            "preset": pa.array(["transparent"] * per_part),
            "output_kind": pa.array(["packshot"] * per_part),
            "model": pa.array(["noop"] * per_part),
            "model_sha256": pa.array(["0" * 64] * per_part),
            "warnings": pa.array([[]] * per_part, pa.list_(pa.string())),
            "output_keys": pa.array([[]] * per_part, pa.list_(pa.string())),
            "altered_by": pa.array([[]] * per_part, pa.list_(pa.string())),
            "processed_at": pa.array(
                np.full(per_part, np.datetime64("2026-11-01T00:00:00", "us")),
                pa.timestamp("us", tz="UTC"),
            ),
        }
        table = pa.table(
            {f.name: columns.get(f.name, pa.nulls(per_part, f.type)) for f in CATALOG_SCHEMA},
            schema=CATALOG_SCHEMA,
        )
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        store.write(f"date=2026-11-01/part-seed-{part:05d}.parquet", buffer.getvalue())


class PeakMemory:
    """The peak resident memory of one process, sampled every 50 ms while it runs."""

    def __init__(self, pid: int) -> None:
        self.process, self.peak = psutil.Process(pid), 0
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while True:
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.05)

    def mb(self) -> float:
        self._thread.join(timeout=1)
        return round(self.peak / 2**20, 1)


def run_command(args: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
    child = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    memory = PeakMemory(child.pid)
    out, err = child.communicate()
    done = subprocess.CompletedProcess(args, child.returncode, out, err)
    return done, memory.mb()


def bench_size(store: str, count: int, work: Path, env: dict[str, str], rows: int) -> dict:
    """One size on one store: phases, per image, peak memory."""
    source, dest = _roots(store, count, work)
    print(f"[{store} {count}] writing photos and a {rows:,}-row catalog", file=sys.stderr)
    write_photos(source, count)
    seed_catalog(dest + "/catalog", rows)
    start = time.perf_counter()
    listed = len(Storage(source).list())
    listing = time.perf_counter() - start
    model = noop_model(work / "home" / "models" / "custom" / "noop.onnx")
    args = [PACKSHOT, "process", source, dest, "--json", "--preset", "transparent"]
    start = time.perf_counter()
    done, peak = run_command([*args, "--model", str(model)], env)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    timings = summary["timings"]
    per_image = timings["batches_s"] / count
    work_s = worker_seconds(dest + "/catalog", summary["run_id"])
    return {
        "store": store,
        "images": count,
        "listed": listed,
        "processed": summary["processed"],
        "listing_s": round(listing, 3),
        **{key: timings.get(key) for key in ("plan_s", "batches_s", "quality_s", "report_s")},
        "near_duplicates_s": near_duplicate_seconds(count, rows),
        "catalog_writes_s": catalog_write_seconds(dest + "/catalog-probe", count),
        "command_s": round(wall, 2),
        "batches_per_image_ms": round(1000 * per_image, 2),
        "worker_per_image_ms": round(1000 * work_s, 2),
        "orchestration_share_of_real_model": round((per_image - work_s) / REAL_MODEL_S, 5),
        "flow_peak_rss_mb": peak,
    }


def worker_seconds(catalog: str, run_id: str) -> float:
    """Mean pipelined worker time per image of the run, from its own catalog rows (the slowest
    stage per image, as the cost model counts it): what the batches phase costs beyond it is
    orchestration (Prefect, Dask, planning the batches' hand-offs)."""
    from tasks import catalog as catalog_io
    from tasks.cost import TIMING_COLUMNS, image_seconds

    sql = f"SELECT {', '.join(TIMING_COLUMNS)} FROM images WHERE run_id = '{run_id}'"
    rows = catalog_io.query(catalog, sql).to_pylist()
    return sum(image_seconds(row) for row in rows) / max(1, len(rows))


def _roots(store: str, count: int, work: Path) -> tuple[str, str]:
    if store == "local":
        return str(work / f"in-{count}"), str(work / f"out-{count}")
    return f"s3://scale-in-{count}", f"s3://scale-out-{count}"


def near_duplicate_seconds(count: int, rows: int) -> float:
    """The near-duplicate search alone: `count` run hashes against `rows` catalog hashes."""
    from tasks.quality import _close_pairs

    rng = np.random.default_rng(5)
    mine = [(f"k{i}", f"{int(v):016x}", f"s{i}") for i, v in enumerate(_hashes(rng, count))]
    known = [(f"o{i}", f"{int(v):016x}", f"t{i}") for i, v in enumerate(_hashes(rng, rows))]
    start = time.perf_counter()
    _close_pairs(mine, mine, "run", same_list=True)
    _close_pairs(mine, known, "catalog", same_list=False)
    return round(time.perf_counter() - start, 3)


def _hashes(rng: np.random.Generator, count: int) -> np.ndarray:
    return rng.integers(0, 2**63, count, dtype=np.uint64)


def catalog_write_seconds(url: str, count: int) -> float:
    """Writing the run's catalog parts alone (one per 64 rows), as the batches do."""
    from datetime import UTC, datetime

    from schemas.catalog import CatalogRow
    from tasks.catalog import write_catalog_part

    now = datetime.now(UTC)
    row = CatalogRow(
        run_id="probe", batch=0, source_key="k", source_uri="u", status="processed",
        preset="transparent", model="noop", model_sha256="0" * 64, processed_at=now,
    )  # fmt: skip
    start = time.perf_counter()
    for batch in range(-(-count // BATCH)):
        write_catalog_part(url, [row] * BATCH, run_id="probe", batch=batch)
    return round(time.perf_counter() - start, 3)


def bench_query(rows: int, env: dict[str, str]) -> dict:
    """`packshot catalog query` (a grouped count) over a `rows`-row catalog on S3."""
    url = "s3://scale-query/catalog"
    seed_catalog(url, rows, parts=20)
    sql = "SELECT status, preset, count(*) AS n FROM images GROUP BY ALL"
    start = time.perf_counter()
    done, peak = run_command([PACKSHOT, "catalog", "query", "--catalog", url, sql], env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return {"query_rows": rows, "query_s": round(seconds, 2), "query_peak_rss_mb": peak}


def prefect_server(env: dict[str, str], work: Path) -> subprocess.Popen:
    """One Prefect server for every run of the benchmark (its own database under `work`), so
    each command's figures are its own and not an embedded server's start-up."""
    import httpx

    from tests.support.s3 import free_port

    port = free_port()
    env.update(PREFECT_HOME=str(work / "prefect"), PREFECT_API_URL=f"http://127.0.0.1:{port}/api")
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("prefect")), "server", "start", "--host", "127.0.0.1",
         "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    server.kill()
    raise RuntimeError("the Prefect server did not answer within 180 s")


def moto(env: dict[str, str]):
    """moto's S3 server on 127.0.0.1, with this process and the children pointed at it."""
    import logging

    from moto.server import ThreadedMotoServer

    from tests.support.s3 import free_port

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    aws = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    os.environ.update(aws)
    env.update(aws)
    import boto3

    return server, boto3.client("s3")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--catalog-rows", type=int, default=100_000)
    parser.add_argument("--query-rows", type=int, default=1_000_000)
    parser.add_argument("--stores", nargs="+", default=["local", "s3"], choices=["local", "s3"])
    parser.add_argument(
        "--worker-inside", action="store_true", help="the worker in the command, as by default"
    )
    args = parser.parse_args(argv)
    results: dict[str, object] = {"runs": []}
    with tempfile.TemporaryDirectory(prefix="packshot-scale-") as tmp:
        work = Path(tmp)
        env = dict(
            os.environ,
            PACKSHOT_MODEL__HOME=str(work / "home"),
            PACKSHOT_DASK__N_WORKERS="1",
            # the flow's memory apart from the worker's, unless asked for the default lone
            # worker inside the command
            PACKSHOT_DASK__PROCESSES="false" if args.worker_inside else "true",
            PACKSHOT_MODEL__PRECISION="float32",
        )
        server, s3 = moto(env)
        prefect = prefect_server(env, work)
        try:
            for store in args.stores:
                for count in args.sizes:
                    if store == "s3":
                        for bucket in (f"scale-in-{count}", f"scale-out-{count}"):
                            s3.create_bucket(Bucket=bucket)
                    result = bench_size(store, count, work, env, args.catalog_rows)
                    print(json.dumps(result), file=sys.stderr)
                    results["runs"].append(result)  # type: ignore[union-attr]
            if args.query_rows:
                s3.create_bucket(Bucket="scale-query")
                results["query"] = bench_query(args.query_rows, env)
                print(json.dumps(results["query"]), file=sys.stderr)
        finally:
            prefect.terminate()
            prefect.wait(timeout=30)
            server.stop()
    results["real_model_s"] = REAL_MODEL_S
    OUT.mkdir(exist_ok=True)
    (OUT / "scale.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
