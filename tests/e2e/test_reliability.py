"""Crash, rerun, exactly once (issue 18): real `packshot` processes, real signals, real kills.

The tiny test model keeps each run to the command's own start-up and orchestration; what is
checked is what happens to processes, rows and files when things go wrong.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tasks.catalog import query
from tests.support.images import encoded, product_photo

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
PACKSHOT = [str(Path(sys.executable).with_name("packshot"))]
IMAGES = 8


@pytest.fixture(scope="module")
def prefect_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One Prefect database for the module: its migrations run once, not per command."""
    return tmp_path_factory.mktemp("prefect")


@pytest.fixture
def env(prefect_home: Path, model_home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PACKSHOT_MODEL__HOME": str(model_home),
        "PACKSHOT_DASK__N_WORKERS": "1",
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "GX_ANALYTICS_ENABLED": "false",
    }


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    source = tmp_path / "in"
    source.mkdir()
    for i in range(IMAGES):
        (source / f"p{i}.jpg").write_bytes(encoded(product_photo((700 + 10 * i, 700))))
    return source


def _args(source: Path, dest: Path, model_home: Path, *extra: str) -> list[str]:
    model = str(model_home / "custom" / "tiny-isnet.onnx")
    return [*PACKSHOT, "process", str(source), str(dest), "--model", model, *extra]


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(args, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def _descendants(pid: int) -> set[int]:
    """Every process below `pid` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


def _wait_for_parts(dest: Path, count: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 240
    while len(list((dest / "catalog").glob("date=*/part-*.parquet"))) < count:
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.02)


def _stop(process: subprocess.Popen, sig: int) -> set[int]:
    """Send `sig` to the command alone; the processes it had started."""
    started = _descendants(process.pid)
    assert started, "the command had started no helper process"
    os.kill(process.pid, sig)
    process.wait(timeout=60)
    deadline = time.monotonic() + 30
    while _alive(started) and time.monotonic() < deadline:
        time.sleep(0.2)
    return _alive(started)


def _processed_counts(dest: Path) -> dict[str, int]:
    rows = query(
        str(dest / "catalog"),
        "SELECT source_key, count(*) AS n FROM images WHERE status = 'processed' GROUP BY 1",
    )
    return {r["source_key"]: r["n"] for r in rows.to_pylist()}


def test_sigterm_and_kill_9_leave_nothing_behind_and_two_reruns_complete_once(
    photos: Path, tmp_path: Path, env: dict[str, str], model_home: Path
) -> None:
    dest = tmp_path / "out"
    args = _args(photos, dest, model_home, "--batch-size", "1")
    log = tmp_path / "term.log"
    first = _start(args, env, log)
    _wait_for_parts(dest, 1, first, log)
    assert _stop(first, signal.SIGTERM) == set(), "SIGTERM left processes behind"
    assert first.returncode == 130, log.read_text()[-2000:]

    log = tmp_path / "kill.log"
    second = _start(args, env, log)
    _wait_for_parts(dest, len(_processed_counts(dest)) + 1, second, log)
    assert _stop(second, signal.SIGKILL) == set(), "kill -9 left processes behind"

    # Two reruns at once: both find the killed run's leases stale, and one takes each over.
    reruns = [_start(args, env, tmp_path / f"rerun{i}.log") for i in range(2)]
    for i, rerun in enumerate(reruns):
        assert rerun.wait(timeout=300) == 0, (tmp_path / f"rerun{i}.log").read_text()[-3000:]
    logs = "".join((tmp_path / f"rerun{i}.log").read_text() for i in range(2))
    assert "Crashed" in logs  # the killed command's run, marked by a rerun
    assert _processed_counts(dest) == {f"p{i}.jpg": 1 for i in range(IMAGES)}
    assert not list(dest.rglob("*.partial"))
    assert not list((dest / "_packshot" / "leases").glob("*"))


def test_a_killed_worker_costs_one_batch_and_failed_images_exit_3_until_fixed(
    photos: Path, tmp_path: Path, env: dict[str, str], model_home: Path
) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "amazon-main").write_text("a file where the outputs' folder should be")
    args = _args(photos, dest, model_home, "--batch-size", "1")
    log = tmp_path / "worker.log"
    run = _start(args, env, log)  # several batches: a worker process
    # at least two batches delivered to the flow, and some still to come
    _wait_for_log(log, rf"\] [2-{IMAGES - 1}]/{IMAGES} images", run)
    workers = [p for p in _descendants(run.pid) if b"multiprocessing" in _cmdline(p)]
    assert workers, "no Dask worker process found"
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    assert run.wait(timeout=300) == 3, log.read_text()[-3000:]
    out = log.read_text()
    assert f"{IMAGES} images" in out and f"{IMAGES} failed" in out
    rows = query(str(dest / "catalog"), "SELECT source_key, status FROM images").to_pylist()
    assert sorted(r["source_key"] for r in rows) == [f"p{i}.jpg" for i in range(IMAGES)]
    # Only the batch in flight (one image) was run again, not the ones already delivered:
    # Dask recomputes every key a dead worker still held for the client.
    reads = query(
        str(dest / "catalog"),
        "SELECT url, count(*) AS n FROM audit WHERE action = 'read' "
        f"AND process NOT LIKE '%:{run.pid}' GROUP BY 1",
    ).to_pylist()
    assert len(reads) == IMAGES
    assert sum(1 for r in reads if r["n"] > 1) <= 1, reads

    (dest / "amazon-main").unlink()
    fixed = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    latest = query(str(dest / "catalog"), "SELECT status FROM latest").column("status")
    assert latest.to_pylist() == ["processed"] * IMAGES  # the stale failed rows superseded


def test_two_runs_at_once_do_each_image_once_between_them(
    photos: Path, tmp_path: Path, env: dict[str, str], model_home: Path
) -> None:
    dest = tmp_path / "out"
    args = _args(photos, dest, model_home, "--batch-size", "2")
    runs = [_start(args, env, tmp_path / f"{i}.log") for i in range(2)]
    for i, run in enumerate(runs):
        assert run.wait(timeout=300) == 0, (tmp_path / f"{i}.log").read_text()[-3000:]
    assert _processed_counts(dest) == {f"p{i}.jpg": 1 for i in range(IMAGES)}


def test_usage_errors_exit_2(
    tmp_path: Path, env: dict[str, str], photos: Path, model_home: Path
) -> None:
    batch = subprocess.run(
        _args(photos, tmp_path / "o", model_home, "--batch-size", "0"),
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert batch.returncode == 2 and "--batch-size" in batch.stderr
    check = subprocess.run(
        [*PACKSHOT, "check", str(tmp_path / "missing")],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert check.returncode == 2 and "does not exist" in check.stderr


def test_a_destination_that_is_a_file_fails_before_the_model_runs(
    tmp_path: Path, env: dict[str, str], photos: Path, model_home: Path
) -> None:
    dest = tmp_path / "dest"
    dest.write_text("a file")
    done = subprocess.run(
        _args(photos, dest, model_home), env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("packshot: destination not usable")


def _wait_for_log(log: Path, pattern: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 240
    while not re.search(pattern, log.read_text()):
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.02)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def test_an_s3_endpoint_that_stops_answering_fails_the_run_in_seconds_and_a_rerun_completes(
    photos: Path, tmp_path: Path, env: dict[str, str], model_home: Path
) -> None:
    """moto's own server process, frozen with SIGSTOP mid-run: it accepts connections and
    never answers, the way a hung endpoint does."""
    import boto3

    from tests.support.s3 import free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        client = boto3.client(
            "s3", endpoint_url=url, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                client.create_bucket(Bucket="shop")
                break
            except Exception:  # noqa: BLE001 (the server is still starting)
                assert time.monotonic() < deadline, "moto's server did not start"
                time.sleep(0.2)
        for photo in sorted(photos.iterdir()):
            client.put_object(Bucket="shop", Key=f"in/{photo.name}", Body=photo.read_bytes())
        s3_env = {
            **env,
            "AWS_ENDPOINT_URL": url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "PACKSHOT_STORAGE__CONNECT_TIMEOUT_S": "1",
            "PACKSHOT_STORAGE__READ_TIMEOUT_S": "2",
            "HOME": str(tmp_path / "home"),  # the catalog's local spool is this test's own
        }
        model = str(model_home / "custom" / "tiny-isnet.onnx")
        args = [*PACKSHOT, "process", "s3://shop/in", "s3://shop/out", "--model", model,
                "--batch-size", "1"]  # fmt: skip
        log = tmp_path / "stopped.log"
        run = _start(args, s3_env, log)
        _wait_for_log(log, rf"\] [2-{IMAGES - 1}]/{IMAGES} images", run)
        moto.send_signal(signal.SIGSTOP)
        stopped_at = time.monotonic()
        try:
            code = run.wait(timeout=180)
        finally:
            gave_up = time.monotonic() - stopped_at
            moto.send_signal(signal.SIGCONT)
            if run.poll() is None:  # a hang: leave no command behind to load the next test
                run.kill()
        out = log.read_text()
        assert code in (1, 3), out[-3000:]  # 3: images failed; 1: the run itself failed
        assert gave_up < 90, f"{gave_up:.0f} s after the endpoint froze\n{out[-3000:]}"

        rerun = subprocess.run(args, env=s3_env, capture_output=True, text=True, timeout=300)
        assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-3000:]
        keys = [o["Key"] for o in _objects(client, "shop", "out/")]
        assert not [k for k in keys if k.endswith(".partial")]
        catalog = tmp_path / "catalog"
        for key in keys:
            if key.startswith("out/catalog/") and key.endswith(".parquet"):
                target = catalog / key.removeprefix("out/catalog/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(client.get_object(Bucket="shop", Key=key)["Body"].read())
        assert _processed_counts(tmp_path) == {f"p{i}.jpg": 1 for i in range(IMAGES)}
        originals = {o["Key"] for o in _objects(client, "shop", "in/")}
        assert originals == {f"in/p{i}.jpg" for i in range(IMAGES)}
    finally:
        moto.send_signal(signal.SIGCONT)
        moto.kill()
        moto.wait()


def _objects(client, bucket: str, prefix: str) -> list[dict]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [o for page in pages for o in page.get("Contents", [])]
