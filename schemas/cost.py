"""Cost shapes: the dated pricing table (schemas/pricing.json) and a run's cost estimate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

PRICING_FILE = Path(__file__).resolve().parent / "pricing.json"
Architecture = Literal["x86_64", "arm64"]


class LambdaPricing(BaseModel):
    """AWS Lambda: billed per GB-second of memory and per request; vCPUs grow with memory."""

    source: str
    gb_second: dict[Architecture, float]
    per_million_requests: float = Field(ge=0)
    mb_per_vcpu: int = Field(1769, ge=1, description="Memory that buys one vCPU.")
    max_vcpus: int = Field(6, ge=1)
    memory_mb: int = Field(4096, ge=128, le=10240, description="Function memory assumed.")
    architecture: Architecture = "x86_64"
    invocation_overhead_s: float = Field(0.15, ge=0, description="Billed time per call.")
    images_per_invocation: int = Field(8, ge=1, description="Batch size: images per call.")


class FargatePricing(BaseModel):
    """ECS on Fargate: billed per vCPU-hour and GB-hour of the task's size."""

    source: str
    vcpu_hour: dict[Architecture, float]
    gb_hour: dict[Architecture, float]
    vcpus: float = Field(4, gt=0)
    memory_gb: float = Field(16, gt=0)
    architecture: Architecture = "x86_64"
    utilisation: float = Field(0.85, gt=0, le=1, description="Share of task time spent working.")


class LocalPricing(BaseModel):
    """A machine you own: electricity, plus any hardware cost you spread over its hours."""

    source: str
    cores: int = Field(8, ge=1)
    watts: float = Field(65, ge=0, description="Average draw under load.")
    kwh: float = Field(0.30, ge=0, description="Electricity price per kWh.")
    hardware_hour: float = Field(0.0, ge=0, description="Depreciation per hour of use.")


class S3Pricing(BaseModel):
    """S3 request charges: one GET per original, PUTs per output and catalog part."""

    source: str
    get_per_1000: float = Field(ge=0)
    put_per_1000: float = Field(ge=0)
    applies_to: list[str] = Field(default_factory=lambda: ["lambda", "fargate"])


class Pricing(BaseModel):
    """The pricing table: list prices on a date, with where each came from."""

    as_of: str = Field(description="Date the prices were read from their sources (ISO).")
    currency: str = "USD"
    region: str
    note: str = ""
    lambda_: LambdaPricing = Field(alias="lambda")
    fargate: FargatePricing
    local: LocalPricing
    s3: S3Pricing


def load_pricing(override: Path | None = None) -> Pricing:
    """The bundled table, with the fields of `override` (same shape, any subset) on top."""
    table = json.loads(PRICING_FILE.read_text())
    if override is not None:
        table = _merge(table, json.loads(Path(override).read_text()))
    return Pricing.model_validate(table)


def _merge(base: dict, top: dict) -> dict:
    merged = dict(base)
    for key, value in top.items():
        nested = isinstance(value, dict) and isinstance(base.get(key), dict)
        merged[key] = _merge(base[key], value) if nested else value
    return merged


class EngineCost(BaseModel):
    """Dollars per 1,000 images on one engine, and how the figure is made up."""

    engine: Literal["lambda", "fargate", "local"]
    per_1000: float = Field(description="Total per 1,000 input images.")
    compute_per_1000: float
    requests_per_1000: float = Field(description="Lambda requests and S3 requests.")
    hours_per_1000: float = Field(description="Wall-clock hours per 1,000 on one unit.")
    assumptions: str


class CostEstimate(BaseModel):
    """What processing 1,000 images like the measured ones costs on each engine."""

    model: str
    images: int = Field(description="Catalog rows the timings come from.")
    seconds_per_image: float = Field(
        description="Mean pipelined worker time per image (the slowest stage of each)."
    )
    measured_vcpus: float = Field(description="vCPUs a worker process had when measured.")
    vcpu_seconds_per_image: float
    pricing_as_of: str
    currency: str
    engines: list[EngineCost]
