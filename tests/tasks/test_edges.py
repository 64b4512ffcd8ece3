"""Bad input at the edges (issue 18, point 7): only regular files within the limit are read."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from schemas.catalog import Outcome, Reason
from schemas.models import ModelRef
from schemas.run import BatchJob
from schemas.settings import StorageSettings
from tasks.batch import process_batch
from tasks.catalog import query
from tasks.imaging.check import check_source
from tasks.quarantine import QUARANTINE_PREFIX
from tasks.storage import Storage, UnusableObject, printable
from tests.support.images import encoded, product_photo
from tests.support.jobs import preset_fields

LIMIT = 64 * 1024


@pytest.fixture
def edgy(tmp_path: Path) -> Path:
    """A source holding one good photo beside links, a FIFO, a socket and an oversize file."""
    source = tmp_path / "in"
    source.mkdir()
    (source / "good.jpg").write_bytes(encoded(product_photo((640, 640))))
    (source / "passwd.jpg").symlink_to("/etc/passwd")
    (source / "zero.jpg").symlink_to("/dev/zero")
    (source / "outside").symlink_to(tmp_path)  # a folder link: not walked into
    os.mkfifo(source / "pipe.jpg")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(source / "sock.jpg"))
    sock.close()
    with open(source / "huge.jpg", "wb") as handle:
        handle.truncate(LIMIT + 1)  # sparse: its size says it all
    (source / "line\nbreak\x1b.jpg").write_bytes(b"not an image")
    return source


def test_listing_reports_kind_and_size_without_following_links(edgy: Path) -> None:
    kinds = {i.key: (i.kind, i.size) for i in Storage(str(edgy)).list_objects()}
    assert kinds["passwd.jpg"][0] == kinds["zero.jpg"][0] == kinds["outside"][0] == "symlink"
    assert kinds["pipe.jpg"][0] == "fifo" and kinds["sock.jpg"][0] == "socket"
    assert kinds["huge.jpg"] == ("file", LIMIT + 1)
    assert not any(key.startswith("outside/") for key in kinds)


def test_special_files_are_refused_without_being_opened(edgy: Path) -> None:
    store = Storage(str(edgy), StorageSettings(max_file_bytes=LIMIT))
    # A FIFO opened for reading would block this test forever: with no writer it cannot hang
    # only if it is never opened. The watchdog turns a hang into a failure.
    outcome: dict[str, str] = {}

    def read_all() -> None:
        for key in ["passwd.jpg", "zero.jpg", "pipe.jpg", "sock.jpg", "huge.jpg"]:
            try:
                store.read(key)
                outcome[key] = "read"
            except UnusableObject as exc:
                outcome[key] = exc.reason.value

    reader = threading.Thread(target=read_all, daemon=True)
    reader.start()
    reader.join(20)
    assert not reader.is_alive(), "a special file was opened for reading"
    assert outcome == {
        "passwd.jpg": Reason.NOT_A_REGULAR_FILE,
        "zero.jpg": Reason.NOT_A_REGULAR_FILE,
        "pipe.jpg": Reason.NOT_A_REGULAR_FILE,
        "sock.jpg": Reason.NOT_A_REGULAR_FILE,
        "huge.jpg": Reason.FILE_TOO_LARGE,
    }
    assert store.read("good.jpg")[:2] == b"\xff\xd8"


def test_a_key_through_a_folder_link_is_not_read(edgy: Path) -> None:
    (edgy.parent / "secret.jpg").write_bytes(b"secret")
    with pytest.raises(UnusableObject) as refused:
        Storage(str(edgy)).read("outside/secret.jpg")
    assert refused.value.reason is Reason.NOT_A_REGULAR_FILE


def test_batch_rejects_them_with_reasons_and_copies_none_to_quarantine(
    edgy: Path, tmp_path: Path, tiny_ref: ModelRef, model_home: Path
) -> None:
    keys = sorted(Storage(str(edgy)).list())
    dest = tmp_path / "out"
    job = BatchJob(
        run_id="edges",
        batch=0,
        source=str(edgy),
        source_keys=keys,
        destination=str(dest),
        catalog=str(dest / "catalog"),
        **preset_fields(keys, "amazon-main"),
        model=tiny_ref,
        model_home=str(model_home),
        onnx_threads=1,
        max_pixels=20_000_000,
        write_options=StorageSettings(max_file_bytes=LIMIT),
    )
    rows = {row.source_key: row for row in process_batch(job)}
    assert len(rows) == len(keys)  # every input ends in a recorded state
    for key in ["passwd.jpg", "zero.jpg", "outside", "pipe.jpg", "sock.jpg"]:
        assert (rows[key].status, rows[key].reason) == (Outcome.REJECTED, "not_a_regular_file")
    assert rows["huge.jpg"].reason == "file_too_large" and rows["huge.jpg"].sha256 is None
    assert rows["good.jpg"].status == Outcome.PROCESSED
    quarantined = sorted(p.name for p in (dest / QUARANTINE_PREFIX).rglob("*") if p.is_file())
    assert quarantined == ["line\nbreak\x1b.jpg", "line\nbreak\x1b.jpg.reasons.json"]
    # The name is recorded exactly, and printed on one line.
    stored = query(
        str(dest / "catalog"), "SELECT source_key FROM images WHERE reason = 'not_an_image'"
    )
    assert stored.column("source_key").to_pylist() == ["line\nbreak\x1b.jpg"]
    assert printable("line\nbreak\x1b.jpg") == "line\\nbreak\\x1b.jpg"


def test_check_rejects_special_files_instead_of_hanging(edgy: Path) -> None:
    verdicts = dict(check_source(str(edgy), "amazon-main", max_pixels=20_000_000))
    assert verdicts["pipe.jpg"].reason == "not_a_regular_file"
    assert verdicts["passwd.jpg"].reason == "not_a_regular_file"
    assert verdicts["good.jpg"].status == Outcome.PROCESSED


def test_a_file_rewritten_while_read_is_never_half_used(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "in" / "moving.jpg"
    path.parent.mkdir()
    small, large = b"a" * 2**20, b"b" * 8 * 2**20
    path.write_bytes(large)
    writer = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\n"
         "path = sys.argv[1]\n"
         "end = time.monotonic() + 30\n"
         "while time.monotonic() < end:\n"
         "    for size in (8 << 20, 1 << 20):\n"
         "        with open(path, 'r+b') as f:\n"
         "            f.truncate(0); f.write((b'b' if size > 1 << 20 else b'a') * size)\n",
         str(path)],
    )  # fmt: skip
    store, refused, whole = Storage(str(path.parent)), 0, 0
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                data = store.read("moving.jpg")
            except UnusableObject as exc:
                assert exc.reason is Reason.CHANGED_WHILE_READ
                refused += 1
                continue
            assert data in (small, large, b"")  # whole, or (between truncate and write) empty
            whole += 1
    finally:
        writer.kill()
        writer.wait()
    assert refused > 0  # a file rewritten all along is never quiet long enough to be used
