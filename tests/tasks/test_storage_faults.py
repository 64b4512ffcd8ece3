"""Storage faults (issue 18, points 3 and 4): probes, dead writers' temp files, S3 timeouts."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from schemas.settings import StorageSettings
from tasks import audit
from tasks.storage import Storage, StorageError
from tests.support.s3 import forget_s3_clients

REPO = Path(__file__).resolve().parents[2]
NO_DAC = ["setpriv", "--inh-caps=-dac_override,-dac_read_search",
          "--bounding-set=-dac_override,-dac_read_search"]  # fmt: skip


def test_a_destination_that_is_a_file_fails_the_probe(tmp_path: Path) -> None:
    (tmp_path / "dest").write_text("a file")
    with pytest.raises(StorageError, match="is a file"):
        Storage(str(tmp_path / "dest")).probe()


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv (util-linux)")
def test_a_read_only_folder_fails_the_probe_even_for_root(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    code = (
        "from tasks.storage import Storage, StorageError\n"
        f"try:\n    Storage({str(folder)!r}).probe()\n    print('writable')\n"
        "except StorageError as exc:\n    print('refused:', exc)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([*NO_DAC, sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=60)  # fmt: skip
    assert out.stdout.startswith("refused:") and "not writable" in out.stdout, out.stderr


@pytest.fixture
def tiny_disk(tmp_path: Path):
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True)  # fmt: skip
    if done.returncode:
        pytest.skip("cannot mount a tmpfs here")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_a_full_disk_fails_the_probe_and_a_failed_write_leaves_no_partial(tiny_disk: Path) -> None:
    store = Storage(str(tiny_disk / "dest"))
    with pytest.raises(StorageError, match="full"):
        store.probe(min_free_bytes=16 * 2**20)
    with pytest.raises(OSError):
        store.write("big.bin", b"x" * (2 * 2**20))
    assert not list(tiny_disk.rglob("*.partial"))


def test_partials_of_dead_writers_are_removed_and_a_live_writers_kept(tmp_path: Path) -> None:
    code = (
        "import os, sys\n"
        "from tasks.storage import Storage\n"
        "store = Storage(sys.argv[1])\n"
        "os.replace = lambda *a: os._exit(9)  # killed between write and rename\n"
        "store.write('out/a.jpg', b'half')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    dead = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env, timeout=60)
    assert dead.returncode == 9
    [left] = list(tmp_path.rglob("*.partial"))
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        mine = (
            tmp_path
            / "out"
            / f"b.jpg.{socket.gethostname().replace('.', '_')}-{live.pid}-x.partial"
        )
        mine.write_bytes(b"in progress")
        old = tmp_path / "out" / "c.jpg.0123abcd.partial"  # an older writer's, from elsewhere
        old.write_bytes(b"old")
        os.utime(old, (time.time() - 7200,) * 2)
        removed = Storage(str(tmp_path)).remove_stale_partials()
        assert sorted(removed) == sorted([str(left), str(old)])
        assert mine.exists()
    finally:
        live.kill()
        live.wait()


@pytest.fixture
def silent_endpoint():
    """An endpoint that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_a_silent_s3_endpoint_fails_in_seconds_then_at_once(silent_endpoint, monkeypatch) -> None:
    """Reads and writes (a PutObject waits for `100 Continue`, which botocore's read timeout
    does not cover) end within their deadline; later calls to the endpoint fail at once."""
    from tasks import storage_s3

    monkeypatch.setenv("AWS_ENDPOINT_URL", silent_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    forget_s3_clients()
    options = StorageSettings(connect_timeout_s=1, read_timeout_s=1, max_attempts=1)
    try:
        for call in (lambda s: s.write("a.jpg", b"x" * 100), lambda s: s.read("a.jpg")):
            storage_s3.release_all()
            start = time.monotonic()
            with pytest.raises(storage_s3.EndpointSilent, match="did not answer"):
                call(Storage("s3://bucket/in", options))
            assert time.monotonic() - start < 10  # 1 attempt x (1 s + 1 s), not a hang
            start = time.monotonic()
            with pytest.raises(storage_s3.EndpointSilent, match="stopped answering"):
                Storage("s3://bucket/in", options).write("b.jpg", b"y" * 2**20)
            assert time.monotonic() - start < 1  # held: not sent at all
    finally:
        storage_s3.release_all()
        forget_s3_clients()


def test_s3_exclusive_write_and_principal(aws) -> None:
    bucket = aws.bucket("lease")
    store = Storage(f"s3://{bucket}")
    store.write("lease.json", b"{}", exclusive=True)
    with pytest.raises(FileExistsError):
        store.write("lease.json", b"{}", exclusive=True)
    assert audit.principal_of(store).startswith("arn:aws:")


def test_an_oversize_s3_object_is_refused_from_its_size(aws) -> None:
    from schemas.catalog import Reason
    from tasks.storage import UnusableObject

    bucket = aws.bucket("big")
    aws.s3.put_object(Bucket=bucket, Key="in/big.jpg", Body=b"x" * 4096)
    store = Storage(f"s3://{bucket}/in", StorageSettings(max_file_bytes=1024))
    [info] = store.list_objects()
    assert info.size == 4096
    with pytest.raises(UnusableObject) as refused:
        store.read("big.jpg")
    assert refused.value.reason is Reason.FILE_TOO_LARGE
    assert Storage(f"s3://{bucket}/in").read("big.jpg") == b"x" * 4096
