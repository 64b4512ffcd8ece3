"""The image catalog: one row per input image per run.

`CatalogRow` is the source of truth; the Parquet schema (`CATALOG_SCHEMA`) and the column set
the Great Expectations suite checks are derived from it, so they cannot drift apart.

Layout on storage: `<catalog>/date=YYYY-MM-DD/part-<run_id>-<batch>.parquet`, one file per
batch, each written to a temporary name and renamed into place.
"""

from __future__ import annotations

import types
from datetime import datetime
from enum import StrEnum
from typing import Union, get_args, get_origin

import pyarrow as pa
from pydantic import BaseModel, Field


class Outcome(StrEnum):
    """What happened to an input image."""

    PROCESSED = "processed"
    REJECTED = "rejected"  # the image cannot be used as it is; `reason` says why
    FAILED = "failed"  # packshot could not finish it; `error` says what broke
    NEEDS_REVIEW = "needs_review"  # written under DEST/_review/, waiting for a person's decision


class Reason(StrEnum):
    """Why an image was rejected. Stable codes: analysts group by them."""

    EMPTY_FILE = "empty_file"
    NOT_AN_IMAGE = "not_an_image"
    UNSUPPORTED_FORMAT = "unsupported_format"
    CORRUPT = "corrupt"
    DECOMPRESSION_BOMB = "decompression_bomb"
    TOO_SMALL = "too_small"
    NO_FOREGROUND = "no_foreground"
    EXTREME_ASPECT_RATIO = "extreme_aspect_ratio"
    BLANK_IMAGE = "blank_image"
    FULLY_TRANSPARENT = "fully_transparent"
    OUTPUT_TOO_LARGE = "output_too_large"
    # Issue 15: creatives need a manifest row for their text.
    NO_MANIFEST = "no_manifest"  # an ad template was asked for, but the run has no manifest
    NO_MANIFEST_ROW = "no_manifest_row"  # the manifest has no row for this key or its SKU
    # Issue 14: looks. The preset's scene could not be read or used while rendering this image
    # (checked before the run too; this is for a scene that breaks mid-run).
    SCENE_UNAVAILABLE = "scene_unavailable"
    # issue 18: refused at the edge, before any byte is decoded
    NOT_A_REGULAR_FILE = "not_a_regular_file"  # symlink, FIFO, device, socket
    FILE_TOO_LARGE = "file_too_large"  # over PACKSHOT_STORAGE__MAX_FILE_BYTES, from its size
    CHANGED_WHILE_READ = "changed_while_read"  # size or ETag moved under the reader
    # Issue 16: compliance checks a preset makes rejections, and a reviewer's rejection.
    BACKGROUND_NOT_UNIFORM = "background_not_uniform"
    FILL_LOW = "fill_low"
    TEXT_OVERLAY = "text_overlay"
    TEXT_UNCERTAIN = "text_uncertain"
    ADDED_BORDER = "added_border"
    SEVERAL_PRODUCTS = "several_products"
    REJECTED_BY_REVIEWER = "rejected_by_reviewer"


class WarningCode(StrEnum):
    """Something a marketplace or a shopper may dislike, recorded while the image goes through."""

    BELOW_RECOMMENDED_SIZE = "below_recommended_size"
    BLURRY = "blurry"
    OVEREXPOSED = "overexposed"
    UNDEREXPOSED = "underexposed"
    PRODUCT_CUT_OFF = "product_cut_off"
    MULTI_FRAME = "multi_frame"
    NEAR_DUPLICATE = "near_duplicate"
    # Issue 15: creatives and the background generator.
    GENERATOR_OFF = "generator_off"  # generation asked for, no generator configured: plain bg
    GENERATOR_FAILED = "generator_failed"  # it failed after its retries: plain background
    GENERATOR_CIRCUIT_OPEN = "generator_circuit_open"  # too many failures, not called: plain
    TEXT_TRUNCATED = "text_truncated"  # a manifest text did not fit its slot and ends in '…'
    MISSING_GLYPHS = "missing_glyphs"  # the fonts lack some characters of the text
    LOGO_UNREADABLE = "logo_unreadable"  # the logo could not be read: the creative has none
    # Issue 16: compliance evidence (see tasks/imaging/compliance.py) and the review queue.
    BACKGROUND_NOT_UNIFORM = "background_not_uniform"
    FILL_LOW = "fill_low"
    TEXT_OVERLAY = "text_overlay"
    TEXT_UNCERTAIN = "text_uncertain"
    ADDED_BORDER = "added_border"
    SEVERAL_PRODUCTS = "several_products"
    LOW_CONFIDENCE = "low_confidence"


PARTITION_COLUMN = "date"


class CatalogRow(BaseModel):
    """One input image in one run, with what became of it."""

    run_id: str = Field(description="Prefect flow run id (or a local id outside Prefect).")
    batch: int = Field(description="Index of the batch within the run.")
    source_key: str = Field(description="Key of the original, relative to the source root.")
    source_uri: str = Field(description="Full URL or path of the original.")
    source_etag: str | None = Field(
        None, description="ETag of the original when it was listed (object stores only)."
    )
    source_version: str | None = Field(
        None, description="Version id of the original (versioned buckets only)."
    )
    status: str = Field(description="processed | rejected | failed | needs_review.")
    reason: str | None = Field(None, description="Reason code when rejected.")
    detail: str | None = Field(None, description="Human-readable explanation of reason or error.")
    error: str | None = Field(None, description="Exception type and message when failed.")
    sha256: str | None = Field(None, description="sha256 of the original bytes.")
    file_bytes: int | None = Field(None, description="Size of the original in bytes.")
    format: str | None = Field(None, description="Format sniffed from the bytes (JPEG, PNG, ...).")
    width: int | None = Field(None, description="Width after EXIF orientation.")
    height: int | None = Field(None, description="Height after EXIF orientation.")
    mode: str | None = Field(None, description="Pillow mode of the original (RGB, CMYK, I;16...).")
    exif_orientation: int | None = Field(None, description="EXIF orientation tag (1..8).")
    preset: str = Field(description="Preset (or ad template) this row's output is for.")
    output_kind: str = Field("packshot", description="packshot | creative.")
    model: str = Field(description="Background-removal model name.")
    model_sha256: str = Field(description="sha256 of the model file.")
    inference: str | None = Field(
        None, description="How the model ran: float32/cpu or bfloat16/openvino."
    )
    foreground_share: float | None = Field(None, description="Share of the frame that is product.")
    warnings: list[str] = Field(
        default_factory=list, description="Warning codes (see WarningCode)."
    )
    aspect_ratio: float | None = Field(None, description="Longer side / shorter side.")
    icc_profile: str | None = Field(None, description="Embedded ICC profile's description.")
    frames: int | None = Field(None, description="Frames in the file (first one is used).")
    sharpness: float | None = Field(None, description="Variance of the Laplacian at 512 px.")
    highlights_clipped: float | None = Field(None, description="Share of pixels at >= 250.")
    shadows_clipped: float | None = Field(None, description="Share of pixels at <= 5.")
    phash: str | None = Field(None, description="64-bit perceptual (DCT) hash, hex.")
    product_fill: float | None = Field(
        None, description="Product's longer side / frame's longer side, in the source."
    )
    product_cut_off: bool | None = Field(None, description="The product touches the frame edge.")
    quarantine_key: str | None = Field(None, description="URL of the rejected original's copy.")
    output_keys: list[str] = Field(default_factory=list, description="URLs of the outputs.")
    output_width: int | None = None
    output_height: int | None = None
    output_bytes: int | None = None
    read_ms: float | None = Field(None, description="Time to read the original.")
    inspect_ms: float | None = Field(None, description="Time to decode and validate.")
    mask_ms: float | None = Field(None, description="Time in background removal.")
    compose_ms: float | None = Field(None, description="Time to compose and encode.")
    write_ms: float | None = Field(None, description="Time to write the outputs.")
    worker: str | None = Field(None, description="Host and process that handled the image.")
    worker_peak_rss_mb: float | None = Field(
        None, description="Peak resident memory of that worker process so far, MiB."
    )
    # Issue 14: what the output's recipe did, and proof the product itself was left alone.
    backdrop: str | None = Field(None, description="Backdrop kind (solid, gradient, scene...).")
    shadow: str | None = Field(None, description="Shadow kind (contact, drop, reflection).")
    edge_refined: bool | None = Field(
        None, description="Foreground colour re-estimated where the mask is partly transparent."
    )
    enhance_white_balance: float | None = Field(
        None, description="Colour cast removed from the product, per mille of channel gain."
    )
    enhance_exposure: float | None = Field(None, description="Exposure gain applied (1 = none).")
    enhance_contrast: float | None = Field(None, description="Contrast stretch (1 = none).")
    enhance_denoise: float | None = Field(None, description="Denoise strength applied (0 = none).")
    enhance_sharpen: float | None = Field(None, description="Sharpening amount (0 = none).")
    harmonise_brightness: float | None = Field(
        None, description="Brightness gain matching the product to its scene (1 = none)."
    )
    harmonise_colour: float | None = Field(
        None, description="Largest per-channel gain matching the scene's colour (1 = none)."
    )
    product_delta: float | None = Field(
        None,
        description="Mean absolute change (0..255) of product pixels inside the mask against "
        "the original resized the same way; 0 means the product is untouched.",
    )
    product_delta_p99: float | None = Field(None, description="99th percentile of that change.")
    altered_by: list[str] = Field(
        default_factory=list, description="Steps allowed to change product pixels (empty: none)."
    )
    # Issue 15: creatives and generated pixels.
    manifest_sku: str | None = Field(
        None, description="Manifest row the creative's text came from."
    )
    generated_pixels: bool | None = Field(
        None, description="The output holds pixels made by an image generator (the background)."
    )
    digital_source_type: str | None = Field(
        None, description="IPTC DigitalSourceType written into the output, when any."
    )
    generator: str | None = Field(None, description="Name of the generator plug-in used.")
    # Issue 16: how sure packshot is, the compliance evidence, and review decisions.
    confidence: float | None = Field(
        None, description="0..1, higher means surer the cutout is right."
    )
    confidence_signals: str | None = Field(
        None, description="JSON object: the signals the confidence was computed from."
    )
    compliance: str | None = Field(
        None, description="JSON list of {code, value, limit, severity, rule} measured on the file."
    )
    review_decision: str | None = Field(None, description="approved | rejected, by a reviewer.")
    reviewer: str | None = Field(None, description="Who decided (user@host or Prefect user).")
    decided_at: datetime | None = Field(None, description="When the reviewer decided (UTC).")
    processed_at: datetime = Field(description="When the row was made (UTC).")


_ARROW_TYPES: dict[type, pa.DataType] = {
    str: pa.string(),
    int: pa.int64(),
    float: pa.float64(),
    datetime: pa.timestamp("us", tz="UTC"),
    list[str]: pa.list_(pa.string()),
    bool: pa.bool_(),
}


def _arrow_field(name: str, annotation: object, description: str | None) -> pa.Field:
    nullable = False
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        nullable, annotation = True, args[0]
    return pa.field(
        name,
        _ARROW_TYPES[annotation],  # type: ignore[index]
        nullable=nullable,
        metadata={"description": description or ""},
    )


CATALOG_SCHEMA: pa.Schema = pa.schema(
    [
        _arrow_field(name, field.annotation, field.description)
        for name, field in CatalogRow.model_fields.items()
    ]
)
CATALOG_COLUMNS: tuple[str, ...] = tuple(CATALOG_SCHEMA.names)
REQUIRED_COLUMNS: tuple[str, ...] = tuple(f.name for f in CATALOG_SCHEMA if not f.nullable)


def rows_to_table(rows: list[CatalogRow]) -> pa.Table:
    """The rows as an Arrow table with the catalog schema."""
    return pa.Table.from_pylist([row.model_dump() for row in rows], schema=CATALOG_SCHEMA)
