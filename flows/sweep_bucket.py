"""The `sweep-bucket` flow: on a schedule, process what arrived under a prefix and was missed.

Events can be lost (a queue purged, a listener down past the retention period); the sweep
finds every original the catalog does not hold as processed for the preset and model (by URL
and ETag, or sha256) and runs `process-product-images` over just those keys.
"""

from __future__ import annotations

from typing import Annotated

from prefect import flow
from pydantic import Field

from flows.process_product_images import process_product_images
from schemas.run import RunSummary
from schemas.settings import load_settings
from tasks.sweep import find_unprocessed


@flow(name="sweep-bucket", log_prints=True)
def sweep_bucket(
    source: Annotated[str, Field(description="Bucket prefix (s3://...) or folder to sweep.")],
    destination: Annotated[str, Field(description="Folder or URL the packshots are written to.")],
    preset: Annotated[str, Field(description="Preset name from schemas/presets.")] = "amazon-main",
    model: Annotated[str, Field(description="Model name (packshot models list).")] = "isnet-imgly",
    batch_size: Annotated[int, Field(ge=1, le=1024, description="Images per batch task.")] = 64,
    catalog: Annotated[
        str | None, Field(description="Catalog URL; defaults to <destination>/catalog.")
    ] = None,
) -> RunSummary:
    """Process the originals under `source` that the catalog does not hold yet."""
    settings = load_settings()
    catalog = catalog or destination.rstrip("/") + "/catalog"
    keys = find_unprocessed(
        source=source,
        destination=destination,
        catalog=catalog,
        preset=preset,
        model=model,
        settings=settings,
    )
    return process_product_images(
        source=source,
        destination=destination,
        preset=preset,
        model=model,
        batch_size=batch_size,
        catalog=catalog,
        keys=keys,
    )
