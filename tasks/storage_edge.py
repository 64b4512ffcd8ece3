"""What an entry of a folder is, whether it may be read, and how a local file is read whole.

Only regular files are read: a symlink, FIFO, device or socket is refused from its `lstat`,
never opened for reading; a file over the size limit is refused from its size; one that
changes while it is read (or has not been quiet for a second) is refused, never half-used.
Writes go to a temporary name that says who writes it, then are renamed. Prefect-free.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import socket
import stat
import time
import uuid
from dataclasses import dataclass

from schemas.catalog import Reason


class UnusableObject(Exception):
    """An object packshot will not read as an image: the reason code says why (bad input)."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


# What `lstat` says an entry is; only FILE is ever opened for reading.
FILE, SYMLINK, DIRECTORY, FIFO, DEVICE, SOCKET, OTHER = (
    "file", "symlink", "directory", "fifo", "device", "socket", "other"
)  # fmt: skip


@dataclass(frozen=True)
class ObjectInfo:
    """A stored object as listed: its key, size and kind (from `lstat` on a folder) and, on
    object stores, its ETag and version id."""

    key: str
    etag: str | None = None
    version: str | None = None
    size: int | None = None
    kind: str = FILE


def listed_info(key: str, detail: dict) -> ObjectInfo:
    etag = detail.get("ETag") or detail.get("etag")
    version = detail.get("VersionId") or detail.get("version_id")
    size = detail.get("size") if isinstance(detail.get("size"), int) else None
    return ObjectInfo(key, str(etag).strip('"') if etag else None, version or None, size)


def kind_of(mode: int) -> str:
    for test, kind in (
        (stat.S_ISREG, FILE),
        (stat.S_ISLNK, SYMLINK),
        (stat.S_ISDIR, DIRECTORY),
        (stat.S_ISFIFO, FIFO),
        (stat.S_ISCHR, DEVICE),
        (stat.S_ISBLK, DEVICE),
        (stat.S_ISSOCK, SOCKET),
    ):
        if test(mode):
            return kind
    return OTHER


def refuse(info: ObjectInfo, max_bytes: int | None) -> UnusableObject | None:
    """Why a listed object must not be read (its kind or its size), or None."""
    if info.kind != FILE:
        return UnusableObject(Reason.NOT_A_REGULAR_FILE, f"a {info.kind}, not a regular file")
    if max_bytes is not None and info.size is not None and info.size > max_bytes:
        return UnusableObject(
            Reason.FILE_TOO_LARGE, f"{info.size:,} bytes, over the {max_bytes:,}-byte limit"
        )
    return None


def printable(key: str) -> str:
    """`key` with control characters (newlines, escapes) written as escapes, for one-line text."""
    if key.isprintable():
        return key
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in key)


# A temporary file's name says who writes it, so a later run can tell a dead writer's leftover
# from a live one's file in progress (tasks.storage.Storage.remove_stale_partials).
_HOST = socket.gethostname().replace(".", "_")
PARTIAL_SUFFIX = ".partial"


def read_local_file(root: str, path: str, key: str, limit: int) -> tuple[bytes, ObjectInfo]:
    """Read a regular file whole, refusing links, special files, big files and changes."""
    _require_inside(root, path)
    info = ObjectInfo(key, size=(st := os.lstat(path)).st_size, kind=kind_of(st.st_mode))
    if problem := refuse(info, limit):
        raise problem
    # O_NOFOLLOW: a link swapped in after the lstat fails here; O_NONBLOCK: so would a FIFO.
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        before = os.fstat(fd)
        if (before.st_ino, before.st_dev) != (st.st_ino, st.st_dev) or kind_of(
            before.st_mode
        ) != FILE:
            raise UnusableObject(Reason.CHANGED_WHILE_READ, "replaced between listing and reading")
        if problem := refuse(ObjectInfo(key, size=before.st_size), limit):
            raise problem
        _settle(fd, before)
        data = _read_fd(fd, before.st_size + 1)
        after = os.fstat(fd)
    finally:
        os.close(fd)
    same = (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    if not same or len(data) != before.st_size:
        raise UnusableObject(
            Reason.CHANGED_WHILE_READ,
            f"{before.st_size:,} bytes when opened, {len(data):,} read, {after.st_size:,} after",
        )
    return data, info


# A file written this recently may be one a writer is still filling: a consistent prefix on
# disk, the same size before and after a read while the writer waits for the CPU.
SETTLE_S = 1.0


def _settle(fd: int, before: os.stat_result) -> None:
    """Wait until the file has been quiet for SETTLE_S; refuse it if it changes meanwhile."""
    age = time.time() - before.st_mtime
    if age >= SETTLE_S:
        return
    time.sleep(SETTLE_S - max(age, 0.0))
    again = os.fstat(fd)
    if (again.st_size, again.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        raise UnusableObject(Reason.CHANGED_WHILE_READ, "still being written")


def _read_fd(fd: int, most: int) -> bytes:
    chunks, left = [], most
    while left > 0 and (chunk := os.read(fd, min(left, 8 * 2**20))):
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _require_inside(root: str, path: str) -> None:
    """A key whose folders lead out of the root through a link is not read."""
    real_root, real_parent = os.path.realpath(root), os.path.realpath(os.path.dirname(path))
    if real_parent != real_root and not real_parent.startswith(real_root.rstrip("/") + "/"):
        raise UnusableObject(Reason.NOT_A_REGULAR_FILE, "reached through a link out of the source")


def write_local_file(target: str, data: bytes, *, exclusive: bool) -> None:
    os.makedirs(posixpath.dirname(target), exist_ok=True)
    if exclusive:
        with open(target, "xb") as handle:  # a lease: tiny, and created whole or not at all
            handle.write(data)
        return
    partial = f"{target}.{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:12]}{PARTIAL_SUFFIX}"
    try:
        with open(partial, "wb") as handle:
            handle.write(data)
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise


def stale_partial(path: str, name: str, now: float, older_than_s: float) -> bool:
    writer = name[: -len(PARTIAL_SUFFIX)].rsplit(".", 1)[-1].rsplit("-", 2)
    if len(writer) == 3 and writer[0] == _HOST and writer[1].isdigit():
        return not pid_alive(int(writer[1]))
    try:
        return now - os.lstat(path).st_mtime > older_than_s
    except FileNotFoundError:
        return False


def pid_alive(pid: int) -> bool:
    """Whether process `pid` on this host still runs (0 and below never name one process)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's, and alive
        return True
    return True
