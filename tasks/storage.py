"""Storage behind one small interface: a local folder and an s3:// prefix are the same code.

Keys are POSIX paths relative to the storage root. Writes never expose a half-written
object: local files are written under a temporary name and renamed; object stores publish
an object only when its upload completes.

Reads are guarded at the edge: only regular files are read (a symlink, FIFO, device or socket
is refused from its `lstat`, never opened for reading), a file over the size limit is refused
from its size, and one that changes while it is read is refused rather than half-used. Every
read, write and delete is recorded in the audit trail (tasks/audit.py).
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlparse

import fsspec
from fsspec.implementations.local import LocalFileSystem

from schemas.catalog import Reason
from schemas.settings import StorageSettings
from tasks import audit
from tasks.storage_edge import (  # re-exported: callers import them from here
    DIRECTORY,
    FILE,
    PARTIAL_SUFFIX,
    ObjectInfo,
    UnusableObject,
    kind_of,
    listed_info,
    printable,
    read_local_file,
    refuse,
    stale_partial,
    write_local_file,
)
from tasks.storage_s3 import s3_filesystem

__all__ = [
    "FILE",
    "PARTIAL_SUFFIX",
    "ObjectInfo",
    "Storage",
    "StorageError",
    "UnusableObject",
    "printable",
    "refuse",
]

# The AWS API actions this module makes through s3fs (list, head/get, put with tags, multipart
# abort, delete of packshot's own quarantine copies) and the KMS ones SSE-KMS objects need.
# deployments/iam/*.json may grant no S3 or KMS action outside these (tests/deployments).
S3_ACTIONS: tuple[str, ...] = (
    "s3:ListBucket",
    "s3:GetObject",
    "s3:PutObject",
    "s3:PutObjectTagging",
    "s3:AbortMultipartUpload",
    "s3:DeleteObject",
)
KMS_ACTIONS: tuple[str, ...] = ("kms:Decrypt", "kms:GenerateDataKey")


class StorageError(RuntimeError):
    """Storage could not be reached or refused an operation (infrastructure, not bad input)."""


class SourceNotFound(StorageError):
    """The folder or bucket prefix to list does not exist: a run over it fails at once, where an
    empty listing would complete green with nothing done."""


@dataclass
class Storage:
    """A root URL (`/data/in`, `file:///data/in`, `s3://bucket/prefix`) and its filesystem.

    `write_options` say how S3 writes are encrypted and tagged (the default asks for SSE-S3,
    so no write to a bucket goes out without server-side encryption), how long an S3 call may
    take, and the largest file `read` accepts.
    """

    url: str
    write_options: StorageSettings = field(default_factory=StorageSettings)
    fs: fsspec.AbstractFileSystem = field(init=False, repr=False)
    root: str = field(init=False)

    def __post_init__(self) -> None:
        if self.url.startswith(S3_SCHEMES):  # every call under a deadline (tasks.storage_s3)
            self.fs = s3_filesystem(self.write_options)
            root = self.fs._strip_protocol(self.url)
        else:
            self.fs, root = fsspec.core.url_to_fs(self.url)
        self.root = root.rstrip("/") or "/"

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    def arrow_filesystem(self):
        """The same store as a pyarrow filesystem, for scans that stream (the catalog's views):
        Arrow's own S3 client reads parts in C++ threads, with no Python event loop to
        deadlock against when DuckDB scans from its threads, and nothing loaded up front."""
        import pyarrow.fs as pafs

        if self.is_local:
            return pafs.LocalFileSystem()
        endpoint = getattr(self.fs, "endpoint_url", None) or os.environ.get("AWS_ENDPOINT_URL")
        options: dict[str, object] = {
            "connect_timeout": self.write_options.connect_timeout_s,
            "request_timeout": self.write_options.read_timeout_s,
        }
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if region:
            options["region"] = region
        if endpoint:
            parsed = urlparse(endpoint)
            options.update(endpoint_override=parsed.netloc, scheme=parsed.scheme or "https")
        return pafs.S3FileSystem(**options)

    def path(self, key: str) -> str:
        """The filesystem path of `key`."""
        return posixpath.join(self.root, key) if key else self.root

    def uri(self, key: str) -> str:
        """A URL for `key` that a person or another tool can open."""
        return self.fs.unstrip_protocol(self.path(key)) if not self.is_local else self.path(key)

    def list(self, *, skip_prefixes: tuple[str, ...] = ()) -> list[str]:
        """Every file under the root, as sorted keys; hidden files and `skip_prefixes` left out."""
        return [info.key for info in self.list_objects(skip_prefixes=skip_prefixes)]

    def list_objects(self, *, skip_prefixes: tuple[str, ...] = ()) -> list[ObjectInfo]:
        """Like `list`, with each object's size, kind, ETag and version id where known.

        A folder is walked without following symbolic links: a link is listed as itself (kind
        `symlink`), so nothing outside the root is ever reached through one.
        """
        self.forget_listings()
        try:
            found = self._walk_local() if self.is_local else self._find_remote()
        except FileNotFoundError:
            raise SourceNotFound(f"{self.url} does not exist") from None
        if not found and self.is_local and not self.fs.isdir(self.root):
            raise SourceNotFound(f"{self.url} does not exist or is not a folder")
        infos = []
        for info in found:
            if any(part.startswith(".") for part in info.key.split("/")):
                continue
            if any(
                info.key == p or info.key.startswith(p.rstrip("/") + "/") for p in skip_prefixes
            ):
                continue
            infos.append(info)
        return sorted(infos, key=lambda info: info.key)

    def _find_remote(self) -> list[ObjectInfo]:
        found = self.fs.find(self.root, detail=True)
        return [listed_info(posixpath.relpath(p, self.root), d) for p, d in found.items()]

    def _walk_local(self) -> list[ObjectInfo]:
        if not os.path.isdir(self.root):
            raise FileNotFoundError(self.root)
        infos, folders = [], [self.root]
        while folders:
            folder = folders.pop()
            with os.scandir(folder) as entries:
                for entry in entries:
                    st = entry.stat(follow_symlinks=False)
                    kind = kind_of(st.st_mode)
                    if kind == DIRECTORY:
                        folders.append(entry.path)
                        continue
                    key = posixpath.relpath(entry.path, self.root)
                    infos.append(ObjectInfo(key, size=st.st_size, kind=kind))
        return infos

    def forget_listings(self) -> None:
        """Drop cached listings under the root. Filesystem objects are shared per process, and
        other processes (Dask workers, uploaders) add objects behind their backs."""
        self.fs.invalidate_cache(self.root)
        prefix = self.root.rstrip("/") + "/"
        for path in [p for p in getattr(self.fs, "dircache", {}) if p.startswith(prefix)]:
            self.fs.dircache.pop(path, None)

    def stat(self, key: str) -> ObjectInfo:
        """`key`'s size, kind, ETag and version id (no ETag or version on a local folder)."""
        if self.is_local:
            st = os.lstat(self.path(key))
            return ObjectInfo(key, size=st.st_size, kind=kind_of(st.st_mode))
        self.fs.invalidate_cache(posixpath.dirname(self.path(key)))
        return listed_info(key, self.fs.info(self.path(key)))

    def read(self, key: str) -> bytes:
        """The whole of `key`, if it is a regular file within the size limit that did not
        change while it was read; else `UnusableObject` (nothing of it read beyond that)."""
        limit = self.write_options.max_file_bytes
        if self.is_local:
            data, info = read_local_file(self.root, self.path(key), key, limit)
        else:
            data, info = self._read_remote(key, limit)
        audit.record("read", self.uri(key), etag=info.etag, version=info.version, size=len(data))
        return data

    def _head(self, key: str) -> ObjectInfo:
        """One HeadObject call (s3fs's info() would follow a failure with a listing)."""
        bucket, path, _ = self.fs.split_path(self.path(key))
        head = self.fs.call_s3("head_object", Bucket=bucket, Key=path)
        etag = head.get("ETag")
        return ObjectInfo(
            key, etag.strip('"') if etag else None, head.get("VersionId"), head.get("ContentLength")
        )

    def _read_remote(self, key: str, limit: int) -> tuple[bytes, ObjectInfo]:
        info = self._head(key) if hasattr(self.fs, "call_s3") else self.stat(key)
        if problem := refuse(info, limit):
            raise problem
        try:
            # s3fs sends If-Match with the ETag it opened, so a replaced object fails the read.
            with self.fs.open(self.path(key), "rb", cache_type="none") as handle:
                data = handle.read()
        except OSError as exc:
            if "PreconditionFailed" in str(exc) or "412" in str(exc):
                raise UnusableObject(Reason.CHANGED_WHILE_READ, "replaced while read") from None
            raise
        if info.size is not None and len(data) != info.size:
            raise UnusableObject(
                Reason.CHANGED_WHILE_READ, f"read {len(data):,} bytes of {info.size:,}"
            )
        return data, info

    def exists(self, key: str) -> bool:
        return self.fs.exists(self.path(key))

    def delete(self, key: str) -> None:
        """Remove `key` (packshot deletes only its own copies, never an original)."""
        self.fs.rm_file(self.path(key))
        audit.record("delete", self.uri(key))

    def delete_many(self, keys: list[str]) -> None:
        """Remove `keys`, those already gone included: one DeleteObjects call per 1,000 keys
        on an object store, not a round trip per key (a batch releases a lease per image)."""
        if not keys:
            return
        if self.is_local:
            for key in keys:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(self.path(key))
        else:
            self.fs.rm([self.path(key) for key in keys])
        for key in keys:
            audit.record("delete", self.uri(key))

    def write(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        exclusive: bool = False,
        record: bool = True,
    ) -> str:
        """Write `data` at `key` atomically; returns the object's URL.

        `metadata` becomes the object's user metadata and `tags` (with the configured ones) its
        tags on object stores, where the write also asks for server-side encryption; a local
        folder has no place for them (the catalog row carries the same facts). `exclusive`
        fails with FileExistsError when `key` exists (If-None-Match: * on S3). `record=False`
        keeps the write out of the audit trail (the audit trail's own parts).
        """
        target = self.path(key)
        etag = version = None
        if self.is_local:
            write_local_file(target, data, exclusive=exclusive)
        else:
            kwargs = self._object_kwargs(content_type, metadata, tags)
            try:
                out = self.fs.pipe_file(
                    target, data, mode="create" if exclusive else "overwrite", **kwargs
                )
            except OSError as exc:
                if exclusive and ("PreconditionFailed" in str(exc) or "412" in str(exc)):
                    raise FileExistsError(target) from None
                raise
            if isinstance(out, dict):
                etag, version = out.get("ETag"), out.get("VersionId")
        uri = self.uri(key)
        if record:
            audit.record("write", uri, etag=str(etag).strip('"') if etag else None, version=version,
                         size=len(data))  # fmt: skip
        return uri

    def probe(self, *, min_free_bytes: int = 0) -> None:
        """Raise StorageError (one line) unless a write here would work: not a file, writable,
        not full. Writes and deletes a hidden probe object."""
        if self.is_local and os.path.exists(self.root) and not os.path.isdir(self.root):
            raise StorageError(f"{self.root} is a file, not a folder")
        key = f"_packshot/.probe-{uuid.uuid4().hex}"
        try:
            if self.is_local:
                os.makedirs(self.root, exist_ok=True)
                free = shutil.disk_usage(self.root).free
                if free < min_free_bytes:
                    raise StorageError(f"{self.root} is full ({free:,} bytes free)")
            self.write(key, b"probe", record=False)
            self.fs.rm_file(self.path(key))
        except StorageError:
            raise
        except Exception as exc:
            raise StorageError(f"{self.uri('')} is not writable: {_one_line(exc)}") from None

    def remove_stale_partials(self, *, older_than_s: float = 3600.0) -> list[str]:
        """Delete temporary files a dead writer left under the root: those of a process on this
        host that is gone, and any older than `older_than_s` (a writer elsewhere). A live
        writer's file in progress is left alone. The removed paths."""
        if not self.is_local or not os.path.isdir(self.root):
            return []  # object stores publish an object only when its upload completes
        removed, now = [], time.time()
        for folder, _, names in os.walk(self.root):
            for name in names:
                path = os.path.join(folder, name)
                if name.endswith(PARTIAL_SUFFIX) and stale_partial(path, name, now, older_than_s):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
                        removed.append(path)
        return removed

    def _object_kwargs(
        self,
        content_type: str | None,
        metadata: dict[str, str] | None,
        tags: dict[str, str] | None,
    ) -> dict[str, object]:
        """PutObject arguments: type, metadata, tags and server-side encryption."""
        options = self.write_options
        kwargs: dict[str, object] = {"ServerSideEncryption": options.sse}
        if options.sse == "aws:kms" and options.kms_key_id:
            kwargs["SSEKMSKeyId"] = options.kms_key_id
        if content_type:
            kwargs["ContentType"] = content_type
        if metadata:
            kwargs["Metadata"] = metadata
        all_tags = {**options.tags, **(tags or {})}
        if all_tags:
            kwargs["Tagging"] = urlencode(all_tags)
        return kwargs


def same_root(one: Storage, other: Storage) -> bool:
    return type(one.fs) is type(other.fs) and one.root.rstrip("/") == other.root.rstrip("/")


def own_prefixes(destination: Storage) -> list[str]:
    """The top-level folders packshot writes in a destination: every `_` folder (reports,
    quarantine, review, audit) and one per preset. A destination that is also the source
    never reads them back as originals."""
    from schemas.presets import load_presets  # the presets name the output folders

    try:
        names = [p.rsplit("/", 1)[-1] for p in destination.fs.ls(destination.root, detail=False)]
    except FileNotFoundError:
        names = []
    return [n for n in names if n.startswith("_")] + sorted(load_presets())


def relative_prefix(outer: Storage, inner: Storage) -> str | None:
    """`inner`'s root as a key under `outer`, when both share a filesystem and it is nested."""
    if type(outer.fs) is not type(inner.fs):
        return None
    outer_root, inner_root = outer.root.rstrip("/"), inner.root.rstrip("/")
    if inner_root.startswith(outer_root + "/"):
        return inner_root[len(outer_root) + 1 :]
    return None


S3_SCHEMES = ("s3://", "s3a://")


def _one_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:300]
