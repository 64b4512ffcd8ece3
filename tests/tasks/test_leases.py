"""Leases (issue 18, point 2): one run per (original, preset) at a time, on a folder and S3."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
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
