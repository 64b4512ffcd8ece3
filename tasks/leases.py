"""Leases: two runs over the same source and destination do each (original, preset) once.

Before a run renders an (original, preset, model) it creates a small lease object in the
destination, `_packshot/leases/<hash>.json`, with a create-only write (O_EXCL on a folder,
`If-None-Match: *` on S3): of two runs, exactly one gets it, and the other leaves the pair to
it. The winner looks at the catalog once more (the other run may have finished the pair
between this run's first look and its claim), and the batch deletes its leases once its
catalog part is written. A lease whose holder is gone (a process on this host that is dead,
or a lease older than its time to live) is taken over, under a create-only guard so that of
runs that find it stale at the same instant exactly one takes it. Prefect-free.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import posixpath
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from schemas.run import BatchJob
from tasks.storage import Storage
from tasks.storage_edge import UnusableObject, pid_alive

LEASE_PREFIX = "_packshot/leases"
# Longer than any batch takes; a lease left by a crash on another host is free after this.
LEASE_TTL_S = 3600.0
# A takeover is a read and a write: its guard outliving this is a taker that died.
GUARD_TTL_S = 60.0
TAKEOVER_SUFFIX = ".takeover"
CLAIM_THREADS = 16  # create-only writes in flight at once on an object store
JSON = "application/json"

log = logging.getLogger("packshot.leases")


def lease_key(uri: str, preset: str, model_sha256: str) -> str:
    digest = hashlib.sha256(f"{uri}\0{preset}\0{model_sha256}".encode()).hexdigest()[:40]
    return f"{LEASE_PREFIX}/{digest}.json"


def _holder(run_id: str) -> bytes:
    return json.dumps(
        {
            "run_id": run_id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "at": datetime.now(UTC).isoformat(),
        }
    ).encode()


def acquire(destination: Storage, key: str, run_id: str, *, ttl_s: float = LEASE_TTL_S) -> bool:
    """Take the lease at `key`, or take over a stale one; False when a live run holds it."""
    for _ in range(2):
        try:
            destination.write(key, _holder(run_id), content_type=JSON, exclusive=True)
            return True
        except FileExistsError:
            pass
        try:
            held = destination.read(key)
        except FileNotFoundError:
            continue  # released meanwhile: create it afresh
        except UnusableObject:
            return False  # being written this instant: a live run's
        return _stale(held, ttl_s) and _take_over(destination, key, held, run_id, ttl_s)
    return False


def _stale(held: bytes, ttl_s: float) -> bool:
    try:
        holder = json.loads(held)
        age = time.time() - datetime.fromisoformat(holder["at"]).timestamp()
    except Exception:  # being written this instant (a folder's create is not atomic)
        return False
    if holder.get("host") == socket.gethostname() and not pid_alive(int(holder.get("pid", 0))):
        return True
    return age > ttl_s


def _take_over(destination: Storage, key: str, stale: bytes, run_id: str, ttl_s: float) -> bool:
    """Replace the stale lease `stale` with ours unless another run replaced it first.

    Two runs can find the same lease stale at once; deleting it and creating it anew would let
    both win. So a takeover holds `<key>.takeover` (create-only) and overwrites the lease only
    while it still holds what was found stale: of the two, exactly one takes it.
    """
    guard = key + TAKEOVER_SUFFIX
    try:
        destination.write(guard, _holder(run_id), content_type=JSON, exclusive=True)
    except FileExistsError:
        _clear_dead_guard(destination, guard, ttl_s)
        return False  # another run is taking it over (or died doing so: the next run will)
    try:
        try:
            current = destination.read(key)
        except FileNotFoundError:
            current = None
        except UnusableObject:
            return False
        if current is None:  # released meanwhile: a plain create, which a newcomer may win
            destination.write(key, _holder(run_id), content_type=JSON, exclusive=True)
        elif current == stale:
            destination.write(key, _holder(run_id), content_type=JSON)
        else:
            return False
        return True
    except FileExistsError:
        return False
    finally:
        _drop(destination, guard)


def _clear_dead_guard(destination: Storage, guard: str, ttl_s: float) -> None:
    """A takeover whose process died before it finished would block the lease for good."""
    try:
        held = destination.read(guard)
    except (FileNotFoundError, UnusableObject):
        return
    if _stale(held, min(ttl_s, GUARD_TTL_S)):
        _drop(destination, guard)


def _drop(destination: Storage, key: str) -> None:
    try:
        destination.delete(key)
    except FileNotFoundError:
        pass


def claim(todo: list, source: Storage, destination: Storage, *, model_sha256: str, run_id: str):
    """`todo` (tasks.pending.Pending items) with only the presets whose lease this run got."""
    from tasks.pending import Pending

    keys = [
        [lease_key(source.uri(item.info.key), preset, model_sha256) for preset in item.presets]
        for item in todo
    ]
    flat = [key for item_keys in keys for key in item_keys]
    if destination.is_local:
        taken = [acquire(destination, key, run_id) for key in flat]
    else:  # create-only writes cannot be batched: several in flight, not one per round trip
        with ThreadPoolExecutor(CLAIM_THREADS, thread_name_prefix="lease") as pool:
            taken = list(pool.map(lambda key: acquire(destination, key, run_id), flat))
    got = dict(zip(flat, taken, strict=True))
    kept, elsewhere = [], 0
    for item, item_keys in zip(todo, keys, strict=True):
        mine = [p for p, key in zip(item.presets, item_keys, strict=True) if got[key]]
        elsewhere += len(item.presets) - len(mine)
        if mine:
            kept.append(Pending(item.info, mine))
    if elsewhere:
        log.warning("%d (original, preset) pairs are being processed by another run", elsewhere)
    return kept


def claim_pending(
    todo: list,
    source: Storage,
    destination: Storage,
    *,
    catalog: str,
    presets: list[str],
    model_sha256: str,
    run_id: str,
    recheck: bool = True,
):
    """Claim `todo`'s pairs, then drop (and release) those the catalog now holds as processed:
    another run may have finished them between the planner's look and this claim."""
    from tasks import pending

    mine = claim(todo, source, destination, model_sha256=model_sha256, run_id=run_id)
    if not recheck or not mine:
        return mine
    done = pending.processed_versions(catalog, presets=presets, model_sha256=model_sha256)
    still = pending.drop_processed([p.info for p in mine], source, done, presets)
    left = {p.info.key: set(p.presets) for p in still}
    for item in mine:
        for preset in set(item.presets) - left.get(item.info.key, set()):
            _drop(destination, lease_key(source.uri(item.info.key), preset, model_sha256))
    return [
        pending.Pending(p.info, [x for x in p.presets if x in left.get(p.info.key, ())])
        for p in mine
        if left.get(p.info.key)
    ]


def clear_finished(
    destination: Storage, source: Storage, finished: list[tuple[str, str]], model_sha256: str
) -> int:
    """Delete the leases of `finished` (source key, preset) pairs, which the catalog holds as
    processed; how many. A run killed between writing a batch's catalog part and releasing its
    leases leaves them, and no later run claims a finished pair to take them over. Safe
    whoever holds one: a holder drops a finished pair when it looks at the catalog again.
    Never fails the run: what is left stays for the next one."""
    folder = destination.path(LEASE_PREFIX)
    try:
        destination.fs.invalidate_cache(folder)
        held = {posixpath.basename(p) for p in destination.fs.ls(folder, detail=False)}
        leases = [lease_key(source.uri(key), preset, model_sha256) for key, preset in finished]
        cleared = [lease for lease in leases if posixpath.basename(lease) in held]
        destination.delete_many(cleared)
    except FileNotFoundError:
        return 0
    except Exception as exc:
        log.warning("leases of finished pairs not cleared (%s); the next run tries again", exc)
        return 0
    return len(cleared)


def release_job(job: BatchJob) -> None:
    """Delete the leases of the job's pairs (its catalog part is written, or spooled).

    Never fails the batch: a lease the destination would not let go of belongs to a process
    that is gone by the next run, which takes it over (`_stale`)."""
    source, destination = Storage(job.source), Storage(job.destination, job.write_options)
    keys = [
        lease_key(source.uri(key), preset, job.model.sha256)
        for key, todo in zip(job.source_keys, job.todo, strict=True)
        for preset in todo
    ]
    try:
        destination.delete_many(keys)
    except Exception as exc:
        log.warning("leases of batch %d not released (%s); the next run takes them over",
                    job.batch, exc)  # fmt: skip
