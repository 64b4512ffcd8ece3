"""Which originals still need processing: idempotency against the catalog (Prefect-free).

An original is done for a (preset, model) when the catalog holds a `processed` row for the same
object: the same URL and the same ETag (object stores) or, where no ETag is known, the same
sha256 of the bytes. Matching on the URL, not the key, makes a sweep of `s3://b/raw/` and an
event-driven run over `s3://b` with key `raw/x.jpg` see the same object.
"""

from __future__ import annotations

import posixpath
from collections import Counter
from dataclasses import dataclass

import duckdb

from schemas.catalog import CatalogRow
from schemas.presets import Preset
from schemas.run import BatchJob
from tasks import catalog as catalog_io
from tasks.imaging.decode import sha256_hex
from tasks.storage import (
    ObjectInfo,
    Storage,
    UnusableObject,
    own_prefixes,
    relative_prefix,
    same_root,
)

_DONE_SQL = """
SELECT DISTINCT source_uri, {etag} AS source_etag, sha256, preset FROM images
WHERE status = 'processed' AND list_contains($presets, preset) AND model_sha256 = $model_sha256
"""


def select_objects(
    source: Storage, keys: list[str] | None, *, skip_prefixes: tuple[str, ...] = ()
) -> list[ObjectInfo]:
    """The objects a run looks at: every object under the root, or just `keys` (in order).

    A named key that is gone is kept without an ETag, so the batch reads it and records a
    failed row instead of dropping it silently.
    """
    if keys is None:
        return source.list_objects(skip_prefixes=skip_prefixes)
    infos = []
    for key in dict.fromkeys(keys):  # the same key twice in one run is one object
        try:
            infos.append(source.stat(key))
        except FileNotFoundError:
            infos.append(ObjectInfo(key))
    return infos


def processed_versions(catalog: str, *, presets: list[str], model_sha256: str) -> list[tuple]:
    """(source_uri, source_etag, sha256, preset) of every processed row for these presets and
    this model file."""
    params = {"presets": presets, "model_sha256": model_sha256}
    con = catalog_io.connect(catalog)
    try:
        return con.execute(_DONE_SQL.format(etag="source_etag"), params).fetchall()
    except duckdb.BinderException:  # parts written before the catalog had source_etag
        return con.execute(_DONE_SQL.format(etag="NULL"), params).fetchall()


@dataclass(frozen=True)
class Pending:
    """An original and the presets still to render for it."""

    info: ObjectInfo
    presets: list[str]


def drop_processed(
    objects: list[ObjectInfo], source: Storage, done: list[tuple], presets: list[str]
) -> list[Pending]:
    """Each object with the presets not yet processed for it (by URL and ETag, else by URL and
    sha256); objects with nothing left to do are left out."""
    etags = {(uri, etag, preset) for uri, etag, _, preset in done if etag}
    hashes = {(uri, sha, preset) for uri, _, sha, preset in done if sha}
    hashed_uris = {uri for uri, _, _ in hashes}
    pending = []
    for info in objects:
        uri = source.uri(info.key)
        digest = _digest(source, info.key) if uri in hashed_uris else None
        todo = [
            preset
            for preset in presets
            if not (info.etag and (uri, info.etag, preset) in etags)
            and not (digest and (uri, digest, preset) in hashes)
        ]
        if todo:
            pending.append(Pending(info, todo))
    return pending


def _digest(source: Storage, key: str) -> str | None:
    try:
        return sha256_hex(source.read(key))
    except (FileNotFoundError, UnusableObject):  # gone, or now a link or special file
        return None


def with_source_versions(rows: list[CatalogRow], job: BatchJob) -> list[CatalogRow]:
    """The rows with the ETag and version id each original had when the run was planned."""
    etags = job.source_etags or [None] * len(job.source_keys)
    versions = job.source_versions or [None] * len(job.source_keys)
    known = {
        key: (etag, version)
        for key, etag, version in zip(job.source_keys, etags, versions, strict=True)
    }
    out = []
    for row in rows:
        etag, version = known.get(row.source_key, (None, None))
        out.append(row.model_copy(update={"source_etag": etag, "source_version": version}))
    return out


def nested_prefixes(source: Storage, *others: str) -> tuple[str, ...]:
    """The keys under `source` where the other roots (destination, catalog) sit, if nested;
    when one *is* the source, the folders packshot writes there (see `own_prefixes`)."""
    prefixes: list[str] = []
    for url in others:
        other = Storage(url)
        if same_root(source, other):
            prefixes.extend(own_prefixes(source))
        elif prefix := relative_prefix(source, other):
            prefixes.append(prefix)
    return tuple(dict.fromkeys(prefixes))


def unprocessed_keys(
    source: str, *, destination: str, catalog: str, presets: list[str], model_sha256: str
) -> list[str]:
    """Keys under `source` (destination and catalog left out) with a preset still to do."""
    src = Storage(source)
    objects = select_objects(src, None, skip_prefixes=nested_prefixes(src, destination, catalog))
    done = processed_versions(catalog, presets=presets, model_sha256=model_sha256)
    return [p.info.key for p in drop_processed(objects, src, done, presets)]


def output_keys(keys: list[str], preset: Preset) -> list[str]:
    """Output key per input key: `<preset>/<key without extension>.<ext>`, kept unique.

    When two originals differ only by extension (shoe.jpg, shoe.png) both keep their full
    name (`shoe.jpg.jpg`, `shoe.png.jpg`) so neither output overwrites the other.
    """
    ext = preset.output.extension
    stems = [posixpath.splitext(key)[0] for key in keys]
    clashes = {stem for stem, count in Counter(stems).items() if count > 1}
    return [
        f"{preset.name}/{key if stem in clashes else stem}.{ext}"
        for key, stem in zip(keys, stems, strict=True)
    ]


def stable_output_keys(
    source: Storage, keys: list[str], listed: list[str] | None, preset: Preset
) -> list[str]:
    """Output keys that do not depend on which other originals happen to share the run.

    `output_keys` gives `shoe.jpg` and `shoe.png` long names only when both are in its list;
    an event-driven run holds a few keys, so each key's siblings (same folder, same stem) are
    looked up, and the whole listing is used when the run listed the source anyway. Without
    this, two originals arriving in different runs would write the same packshot.
    """
    universe = set(keys) | (set(listed) if listed is not None else _siblings(source, keys))
    ordered = sorted(universe)
    by_key = dict(zip(ordered, output_keys(ordered, preset), strict=True))
    return [by_key[key] for key in keys]


def _siblings(source: Storage, keys: list[str]) -> set[str]:
    stems = {posixpath.splitext(key)[0] for key in keys}
    found: set[str] = set()
    for folder in sorted({posixpath.dirname(key) for key in keys}):
        path = source.path(folder)
        source.fs.invalidate_cache(path)
        try:
            names = source.fs.ls(path, detail=False)
        except FileNotFoundError:
            continue
        for name in names:
            key = posixpath.relpath(name, source.root)
            if posixpath.splitext(key)[0] in stems:
                found.add(key)
    return found
