"""What a run returns and records: counts, the quality verdict, where things went."""

from __future__ import annotations

from pydantic import BaseModel, Field

from schemas.cost import CostEstimate
from schemas.creatives import DEFAULT_SKU_PATTERN
from schemas.models import ModelRef
from schemas.settings import GeneratorSettings, Precision, StorageSettings


class QualityResult(BaseModel):
    """The Great Expectations verdict on one run's catalog rows."""

    success: bool
    failed_expectations: list[str] = Field(default_factory=list)
    statistics: dict[str, float] = Field(default_factory=dict)
    on_failure: str = "warn"
    checkpoints: int = Field(0, description="Checkpoint runs: one per batch plus the run's.")
    data_docs: str | None = Field(None, description="URL of the Data Docs index (HTML).")
    near_duplicates: list[NearDuplicate] = Field(default_factory=list)


class NearDuplicate(BaseModel):
    """Two different files whose perceptual hashes are a few bits apart."""

    key: str
    other: str = Field(description="The other key (this run) or catalog source key.")
    distance: int = Field(description="Hamming distance of the 64-bit pHashes.")
    where: str = Field(description="'run' or 'catalog'.")


class RunSummary(BaseModel):
    """One run, as the CLI prints it with --json and as the run report records it.

    The counts are of (original, preset) pairs: a run over 10 photos with 3 presets sees 30,
    and seen = processed + rejected + failed + needs_review, for every preset too (`by_preset`).
    """

    run_id: str
    presets: list[str] = Field(default_factory=list)
    originals: int = Field(0, description="Distinct originals the run looked at.")
    seen: int
    processed: int
    rejected: int
    failed: int
    needs_review: int = 0
    by_preset: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="Per preset: outcome -> (original, preset) pairs."
    )
    already_processed: int = Field(
        0, description="(original, preset) pairs skipped: the catalog holds them as processed."
    )
    reasons: dict[str, int] = Field(default_factory=dict)
    catalog: str
    outputs: list[str] = Field(default_factory=list)
    quality: QualityResult | None = None
    report: str | None = Field(None, description="URL of the run's JSON report.")
    contact_sheet: str | None = Field(None, description="URL of the before/after contact sheet.")
    timings: dict[str, float] = Field(
        default_factory=dict, description="Wall-clock seconds of run phases (batches_s, ...)."
    )
    cost: CostEstimate | None = Field(
        None, description="Dollars per 1,000 images like this run's on Lambda, Fargate, local."
    )


class BatchJob(BaseModel):
    """Everything one batch task needs, as plain values (it crosses process boundaries)."""

    run_id: str
    batch: int
    source: str = Field(description="Source root URL.")
    source_keys: list[str] = Field(
        description="Keys of the originals, relative to the source root."
    )
    presets: list[str] = Field(min_length=1, description="The run's presets, in order.")
    todo: list[list[str]] = Field(
        description="Per original (same order): the presets still to render for it."
    )
    output_keys: list[dict[str, str]] = Field(
        description="Per original (same order): preset -> output key."
    )
    destination: str = Field(description="Destination root URL.")
    catalog: str = Field(description="Catalog root URL.")
    model: ModelRef
    model_home: str
    onnx_threads: int = Field(ge=1)
    precision: Precision = Field(
        "auto", description="As ModelSettings.precision; each worker settles auto for itself."
    )
    max_pixels: int = Field(ge=1)
    write_options: StorageSettings = Field(
        default_factory=StorageSettings,
        description="Server-side encryption and tags of the outputs (object stores).",
    )
    source_etags: list[str | None] | None = Field(
        None, description="ETag of each original when planned, same order as source_keys."
    )
    source_versions: list[str | None] | None = Field(
        None, description="Version id of each original when planned, same order."
    )
    manifest: str | None = Field(None, description="Product manifest URL for ad creatives.")
    scenes: str | None = Field(
        None, description="Where scene presets' photos and specs are read; None: packshot's own."
    )
    sku_pattern: str = Field(
        DEFAULT_SKU_PATTERN, description="Finds the SKU in a file name (group `sku`)."
    )
    generator: GeneratorSettings = Field(
        default_factory=GeneratorSettings, description="The background-generator plug-in."
    )


class Plan(BaseModel):
    """What a run will do: its batch jobs, and what it looked at and left out."""

    jobs: list[BatchJob]
    originals: int = Field(description="Originals listed (or named by keys).")
    already_processed: int = Field(
        description="(original, preset) pairs the catalog already holds as processed."
    )
