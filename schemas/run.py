"""What a run returns and records: counts, the quality verdict, where things went."""

from __future__ import annotations

from pydantic import BaseModel, Field

from schemas.cost import CostEstimate
from schemas.models import ModelRef
from schemas.settings import Precision, StorageSettings


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
    """One run, as the CLI prints it with --json and as the run report records it."""

    run_id: str
    seen: int
    processed: int
    rejected: int
    failed: int
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
    output_keys: list[str] = Field(description="Output key for each input key, same order.")
    destination: str = Field(description="Destination root URL.")
    catalog: str = Field(description="Catalog root URL.")
    preset: str
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
