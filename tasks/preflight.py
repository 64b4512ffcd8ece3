"""Before the model runs: is the destination usable, and what did an earlier run leave?
(Prefect-free; the CLI calls it, and so can a flow.)"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from schemas.settings import StorageSettings
from tasks import catalog as catalog_io
from tasks.storage import Storage

# A destination with less room than this is "full": a batch's outputs and catalog part need a
# few MB, and a disk this close to full fails on the next write anyway.
MIN_FREE_BYTES = 16 * 2**20

log = logging.getLogger("packshot.preflight")


@dataclass
class Preflight:
    """What was tidied: dead writers' temporary files removed, spooled catalog parts written."""

    removed_partials: list[str] = field(default_factory=list)
    spooled_parts: list[str] = field(default_factory=list)


def prepare_destination(
    destination: str,
    catalog: str,
    options: StorageSettings,
    *,
    min_free_bytes: int = MIN_FREE_BYTES,
) -> Preflight:
    """Probe the destination and catalog (StorageError, one line, when a write would fail),
    remove dead writers' `.partial` files there, and write parts an earlier run spooled."""
    done = Preflight()
    for url in dict.fromkeys((destination, catalog)):
        store = Storage(url, options)
        store.probe(min_free_bytes=min_free_bytes)
        done.removed_partials += store.remove_stale_partials()
    done.spooled_parts = catalog_io.flush_spool(catalog, write_options=options)
    for path in done.removed_partials:
        log.info("removed a dead writer's temporary file %s", path)
    return done
