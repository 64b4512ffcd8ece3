"""Prefect task of the `sweep-bucket` flow: which originals are new since the last sweep."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from schemas.settings import PackshotSettings
from tasks import model_store, pending


@task(cache_policy=NO_CACHE)
def find_unprocessed(
    *,
    source: str,
    destination: str,
    catalog: str,
    presets: list[str],
    model: str,
    settings: PackshotSettings,
) -> list[str]:
    """Keys under `source` the catalog holds no processed row for, for some preset (same ETag
    or sha256)."""
    ref = model_store.resolve(model, settings.model.home.expanduser())
    keys = pending.unprocessed_keys(
        source, destination=destination, catalog=catalog, presets=presets, model_sha256=ref.sha256
    )
    get_run_logger().info("%d new original(s) under %s", len(keys), source)
    return keys
