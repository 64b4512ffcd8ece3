"""Leases (issue 18, point 2): one run per (original, preset) at a time, on a folder and S3."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from schemas.catalog import CatalogRow
from tasks import catalog, leases, pending
from tasks.storage import ObjectInfo, Storage

SHA = "f" * 64


def _todo(*keys: str) -> list[pending.Pending]:
    return [pending.Pending(ObjectInfo(k), ["amazon-main", "transparent"]) for k in keys]


def test_one_of_two_claims_wins_on_a_folder(tmp_path: Path) -> None:
    src, dest = Storage(str(tmp_path / "in")), Storage(str(tmp_path / "out"))
    first = leases.claim(_todo("a.jpg", "b.jpg"), src, dest, model_sha256=SHA, run_id="one")
    second = leases.claim(_todo("a.jpg", "c.jpg"), src, dest, model_sha256=SHA, run_id="two")
    assert [(p.info.key, p.presets) for p in first] == [
        ("a.jpg", ["amazon-main", "transparent"]),
        ("b.jpg", ["amazon-main", "transparent"]),
    ]
    assert [p.info.key for p in second] == ["c.jpg"]


def test_a_dead_holders_lease_is_taken_over(tmp_path: Path) -> None:
    dest = Storage(str(tmp_path / "out"))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    key = leases.lease_key("/in/a.jpg", "amazon-main", SHA)
    holder = {"run_id": "dead", "host": socket.gethostname(), "pid": int(gone.stdout),
              "at": datetime.now(UTC).isoformat()}  # fmt: skip
    dest.write(key, json.dumps(holder).encode())
    assert leases.acquire(dest, key, "alive")
    assert json.loads(dest.read(key))["run_id"] == "alive"
    assert not leases.acquire(dest, key, "third")  # this process holds it now


def test_a_claim_drops_pairs_another_run_finished_meanwhile(tmp_path: Path) -> None:
    src, dest = Storage(str(tmp_path / "in")), Storage(str(tmp_path / "out"))
    src.write("a.jpg", b"bytes")
    root = str(tmp_path / "out" / "catalog")
    row = CatalogRow(
        run_id="other",
        batch=0,
        source_key="a.jpg",
        source_uri=src.uri("a.jpg"),
        status="processed",
        preset="amazon-main",
        model="m",
        model_sha256=SHA,
        processed_at=datetime.now(UTC),
        sha256=hashlib.sha256(b"bytes").hexdigest(),
    )
    catalog.write_catalog_part(root, [row], run_id="other", batch=0)
    kept = leases.claim_pending(_todo("a.jpg"), src, dest, catalog=root,
                                presets=["amazon-main", "transparent"], model_sha256=SHA,
                                run_id="me")  # fmt: skip
    assert [(p.info.key, p.presets) for p in kept] == [("a.jpg", ["transparent"])]
    done_lease = leases.lease_key(src.uri("a.jpg"), "amazon-main", SHA)
    assert not dest.exists(done_lease)  # released: nothing left to do for that pair


def test_leases_on_s3_are_create_only(aws) -> None:
    bucket = aws.bucket("dest")
    src, dest = Storage(f"s3://{bucket}/in"), Storage(f"s3://{bucket}/out")
    assert leases.claim(_todo("a.jpg"), src, dest, model_sha256=SHA, run_id="one")
    assert leases.claim(_todo("a.jpg"), src, dest, model_sha256=SHA, run_id="two") == []


def test_a_destination_equal_to_the_source_never_lists_packshots_own_files(tmp_path: Path) -> None:
    src = Storage(str(tmp_path))
    for key in ["shoe.jpg", "amazon-main/shoe.jpg", "_packshot/runs/r/report.json",
                "_quarantine/x.jpg", "_review/y.jpg", "catalog/date=x/part-1.parquet"]:  # fmt: skip
        src.write(key, b"x")
    skip = pending.nested_prefixes(src, str(tmp_path), str(tmp_path / "catalog"))
    assert src.list(skip_prefixes=skip) == ["shoe.jpg"]


RACER = """
import sys, time
from tasks import leases
from tasks.storage import Storage
url, key, run_id, start = sys.argv[1:5]
destination = Storage(url)
while time.time() < float(start):
    pass
print(leases.acquire(destination, key, run_id), flush=True)
time.sleep(max(0.0, float(start) + 2.0 - time.time()))  # a holder lives on while the others try
"""


def _race_for_a_stale_lease(url: str, racers: int) -> list[str]:
    """`racers` processes find the same dead holder's lease at the same instant; the run ids
    that got it."""
    dest = Storage(url)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    key = leases.lease_key("/in/a.jpg", "amazon-main", SHA)
    holder = {"run_id": "dead", "host": socket.gethostname(), "pid": int(gone.stdout),
              "at": datetime.now(UTC).isoformat()}  # fmt: skip
    dest.write(key, json.dumps(holder).encode())
    start = str(time.time() + 2.5)  # past every racer's imports
    procs = [
        subprocess.Popen([sys.executable, "-c", RACER, url, key, f"run{i}", start],
                         stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2])
        for i in range(racers)
    ]  # fmt: skip
    won = [f"run{i}" for i, p in enumerate(procs) if p.communicate(timeout=60)[0].strip() == "True"]
    assert json.loads(dest.read(key))["run_id"] in won
    assert not dest.exists(key + leases.TAKEOVER_SUFFIX)  # the guard is gone with the takeover
    dest.delete(key)
    return won


def test_of_runs_racing_for_a_dead_holders_lease_exactly_one_takes_it(tmp_path: Path) -> None:
    for trial in range(3):
        won = _race_for_a_stale_lease(str(tmp_path / f"out{trial}"), racers=4)
        assert len(won) == 1, won


def test_the_takeover_race_on_s3(aws) -> None:
    bucket = aws.bucket("dest")
    for trial in range(2):
        won = _race_for_a_stale_lease(f"s3://{bucket}/out{trial}", racers=3)
        assert len(won) == 1, won


def test_a_guard_its_taker_died_holding_is_cleared_for_the_next_run(tmp_path: Path) -> None:
    dest = Storage(str(tmp_path / "out"))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    key = leases.lease_key("/in/a.jpg", "amazon-main", SHA)
    dead = json.dumps({"run_id": "dead", "host": socket.gethostname(), "pid": int(gone.stdout),
                       "at": datetime.now(UTC).isoformat()}).encode()  # fmt: skip
    dest.write(key, dead)
    dest.write(key + leases.TAKEOVER_SUFFIX, dead)
    assert not leases.acquire(dest, key, "first")  # a takeover seems under way: left alone
    assert not dest.exists(key + leases.TAKEOVER_SUFFIX)  # ...but its taker is dead
    assert leases.acquire(dest, key, "second")


def _finished_pair_leases(src: Storage, dest: Storage) -> None:
    src.write("a.jpg", b"bytes")
    src.write("b.jpg", b"bytes")
    # a run killed after its catalog part for a.jpg and before releasing its leases
    for preset in ("amazon-main", "transparent"):
        dest.write(leases.lease_key(src.uri("a.jpg"), preset, SHA), b"{}")
    dest.write(leases.lease_key(src.uri("b.jpg"), "amazon-main", SHA), b"{}")
    finished = [("a.jpg", "amazon-main"), ("a.jpg", "transparent"), ("c.jpg", "amazon-main")]
    assert leases.clear_finished(dest, src, finished, SHA) == 2
    left = [k.rsplit("/", 1)[-1] for k in dest.fs.ls(dest.path(leases.LEASE_PREFIX))]
    assert left == [leases.lease_key(src.uri("b.jpg"), "amazon-main", SHA).rsplit("/", 1)[-1]]
    assert leases.clear_finished(Storage(dest.uri("elsewhere")), src, finished, SHA) == 0


def test_leases_of_finished_pairs_are_cleared_on_a_folder(tmp_path: Path) -> None:
    _finished_pair_leases(Storage(str(tmp_path / "in")), Storage(str(tmp_path / "out")))


def test_leases_of_finished_pairs_are_cleared_on_s3(aws) -> None:
    bucket = aws.bucket("dest")
    _finished_pair_leases(Storage(f"s3://{bucket}/in"), Storage(f"s3://{bucket}/out"))
