"""Storage behind one small interface: a local folder and an s3:// prefix are the same code.

Keys are POSIX paths relative to the storage root. Writes never expose a half-written
object: local files are written under a temporary name and renamed; object stores publish
an object only when its upload completes.
"""

from __future__ import annotations

import os
import posixpath
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlencode

import fsspec
from fsspec.implementations.local import LocalFileSystem

from schemas.settings import StorageSettings

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


@dataclass(frozen=True)
class ObjectInfo:
    """A stored object as listed: its key and, on object stores, its ETag and version id."""

    key: str
    etag: str | None = None
    version: str | None = None


def _object_info(key: str, detail: dict) -> ObjectInfo:
    etag = detail.get("ETag") or detail.get("etag")
    version = detail.get("VersionId") or detail.get("version_id")
    return ObjectInfo(key, str(etag).strip('"') if etag else None, version or None)


@dataclass
class Storage:
    """A root URL (`/data/in`, `file:///data/in`, `s3://bucket/prefix`) and its filesystem.

    `write_options` say how S3 writes are encrypted and tagged; the default asks for SSE-S3,
    so no write to a bucket goes out without server-side encryption.
    """

    url: str
    write_options: StorageSettings = field(default_factory=StorageSettings)
    fs: fsspec.AbstractFileSystem = field(init=False, repr=False)
    root: str = field(init=False)

    def __post_init__(self) -> None:
        self.fs, root = fsspec.core.url_to_fs(self.url)
        self.root = root.rstrip("/") or "/"

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

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
        """Like `list`, with each object's ETag and version id where the store has them."""
        self.forget_listings()
        try:
            found = self.fs.find(self.root, detail=True)
        except FileNotFoundError:
            return []
        infos = []
        for path, detail in found.items():
            key = posixpath.relpath(path, self.root)
            if any(part.startswith(".") for part in key.split("/")):
                continue
            if any(key == p or key.startswith(p.rstrip("/") + "/") for p in skip_prefixes):
                continue
            infos.append(_object_info(key, detail))
        return sorted(infos, key=lambda info: info.key)

    def forget_listings(self) -> None:
        """Drop cached listings under the root. Filesystem objects are shared per process, and
        other processes (Dask workers, uploaders) add objects behind their backs."""
        self.fs.invalidate_cache(self.root)
        prefix = self.root.rstrip("/") + "/"
        for path in [p for p in getattr(self.fs, "dircache", {}) if p.startswith(prefix)]:
            self.fs.dircache.pop(path, None)

    def stat(self, key: str) -> ObjectInfo:
        """`key`'s ETag and version id (both None on a local folder)."""
        self.fs.invalidate_cache(posixpath.dirname(self.path(key)))
        return _object_info(key, self.fs.info(self.path(key)))

    def read(self, key: str) -> bytes:
        return self.fs.cat_file(self.path(key))

    def exists(self, key: str) -> bool:
        return self.fs.exists(self.path(key))

    def delete(self, key: str) -> None:
        """Remove `key` (packshot deletes only its own copies, never an original)."""
        self.fs.rm_file(self.path(key))

    def write(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        """Write `data` at `key` atomically; returns the object's URL.

        `metadata` becomes the object's user metadata and `tags` (with the configured ones) its
        tags on object stores, where the write also asks for server-side encryption; a local
        folder has no place for them (the catalog row carries the same facts).
        """
        target = self.path(key)
        if self.is_local:
            os.makedirs(posixpath.dirname(target), exist_ok=True)
            partial = f"{target}.{uuid.uuid4().hex}.partial"
            with open(partial, "wb") as handle:
                handle.write(data)
            os.replace(partial, target)
        else:
            kwargs = self._object_kwargs(content_type, metadata, tags)
            self.fs.pipe_file(target, data, **kwargs)
        return self.uri(key)

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


def relative_prefix(outer: Storage, inner: Storage) -> str | None:
    """`inner`'s root as a key under `outer`, when both share a filesystem and it is nested."""
    if type(outer.fs) is not type(inner.fs):
        return None
    outer_root, inner_root = outer.root.rstrip("/"), inner.root.rstrip("/")
    if inner_root.startswith(outer_root + "/"):
        return inner_root[len(outer_root) + 1 :]
    return None
