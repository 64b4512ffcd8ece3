"""The `sweep-bucket` flow: on a schedule, process what arrived under a prefix and was missed.

Events can be lost (a queue purged, a listener down past the retention period); the sweep
finds every original the catalog does not hold as processed for the preset and model (by URL
and ETag, or sha256) and runs `process-product-images` over just those keys.
"""

from __future__ import annotations

from typing import Annotated

from prefect import flow
from pydantic import Field

from flows.process_product_images import DEFAULT_PRESETS, process_product_images
from schemas.form import OptionalText
from schemas.models import ModelChoice
from schemas.presets import PresetName
from schemas.run import RunSummary
from schemas.settings import load_settings
from tasks.sweep import find_unprocessed

# A location, not empty and not a `{{ $VAR }}` that the deploying environment left unfilled:
# a sweep of "" would list the worker's working directory, and its catalog land at /catalog.
Location = Annotated[str, Field(min_length=1, pattern=r"^[^{\s][^{]*$")]


@flow(name="sweep-bucket", log_prints=True)
def sweep_bucket(
    source: Location,
    destination: Location,
    presets: Annotated[list[PresetName], Field(min_length=1)] = DEFAULT_PRESETS,
    model: ModelChoice = "isnet-imgly",
    batch_size: Annotated[int, Field(ge=1, le=1024)] = 64,
    catalog: OptionalText = "",
) -> RunSummary:
    """Process the originals under `source` that the catalog does not hold yet for a preset.

    Args:
        source: Bucket prefix (s3://bucket/prefix/) or folder to sweep.
        destination: Folder or URL the packshots are written to, one folder per preset.
        presets: Presets every original must have (schemas/presets).
        model: Background-removal model (packshot models list).
        batch_size: Images per batch task.
        catalog: Catalog URL — empty uses the destination's catalog/ folder.
    """
    settings = load_settings()
    catalog = catalog or destination.rstrip("/") + "/catalog"
    keys = find_unprocessed(
        source=source,
        destination=destination,
        catalog=catalog,
        presets=[str(PresetName(p).value) for p in presets],
        model=model,
        settings=settings,
    )
    return process_product_images(
        source=source,
        destination=destination,
        presets=presets,
        model=model,
        batch_size=batch_size,
        catalog=catalog,
        keys=keys,
    )
