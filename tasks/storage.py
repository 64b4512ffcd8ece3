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

import fsspec
from fsspec.implementations.local import LocalFileSystem


class StorageError(RuntimeError):
    """Storage could not be reached or refused an operation (infrastructure, not bad input)."""


@dataclass
class Storage:
    """A root URL (`/data/in`, `file:///data/in`, `s3://bucket/prefix`) and its filesystem."""

    url: str
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
        try:
            found = self.fs.find(self.root)
        except FileNotFoundError:
            return []
        keys = []
        for path in found:
            key = posixpath.relpath(path, self.root)
            if any(part.startswith(".") for part in key.split("/")):
                continue
            if any(key == p or key.startswith(p.rstrip("/") + "/") for p in skip_prefixes):
                continue
            keys.append(key)
        return sorted(keys)

    def read(self, key: str) -> bytes:
        return self.fs.cat_file(self.path(key))

    def exists(self, key: str) -> bool:
        return self.fs.exists(self.path(key))

    def write(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> str:
        """Write `data` at `key` atomically; returns the object's URL.

        `metadata` becomes the object's user metadata on object stores; a local folder has no
        place for it (the catalog row carries the same facts).
        """
        target = self.path(key)
        if self.is_local:
            os.makedirs(posixpath.dirname(target), exist_ok=True)
            partial = f"{target}.{uuid.uuid4().hex}.partial"
            with open(partial, "wb") as handle:
                handle.write(data)
            os.replace(partial, target)
        else:
            kwargs: dict[str, object] = {"ContentType": content_type} if content_type else {}
            if metadata:
                kwargs["Metadata"] = metadata
            self.fs.pipe_file(target, data, **kwargs)
        return self.uri(key)


def relative_prefix(outer: Storage, inner: Storage) -> str | None:
    """`inner`'s root as a key under `outer`, when both share a filesystem and it is nested."""
    if type(outer.fs) is not type(inner.fs):
        return None
    outer_root, inner_root = outer.root.rstrip("/"), inner.root.rstrip("/")
    if inner_root.startswith(outer_root + "/"):
        return inner_root[len(outer_root) + 1 :]
    return None
