"""Settings: one pydantic-settings tree, read from `PACKSHOT_*` environment variables.

Nested concerns use a double underscore: `PACKSHOT_MODEL__HOME`, `PACKSHOT_DASK__ADDRESS`,
`PACKSHOT_QUALITY__ON_FAILURE`. Build it once where a command or flow starts (`load_settings()`)
and pass plain values down; nothing reads settings at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL = "isnet-imgly"


def _default_model_home() -> Path:
    return Path("~/.cache/packshot").expanduser()


Precision = Literal["auto", "float32", "bfloat16"]


class ModelSettings(BaseModel):
    """Where model files live and how inference is threaded."""

    home: Path = Field(
        default_factory=_default_model_home,
        description="Model cache. rembg is pointed here too (U2NET_HOME), so every model "
        "file packshot pulls sits where rembg will load it.",
    )
    default: str = Field(DEFAULT_MODEL, description="Model used when a run names none.")
    onnx_threads: int | None = Field(
        None,
        ge=1,
        le=256,
        description="onnxruntime intra-op threads per worker process; unset means "
        "cores // worker processes, so processes x threads never exceeds the cores.",
    )
    precision: Precision = Field(
        "auto",
        description="auto: bfloat16 on workers whose CPU has bfloat16 instructions (AVX512_BF16, "
        "AMX) through onnxruntime's OpenVINO provider, about twice as fast, masks within a few "
        "8-bit levels; float32 elsewhere. float32: onnxruntime's CPU provider everywhere.",
    )


class DaskSettings(BaseModel):
    """Which Dask cluster runs the batches."""

    address: str | None = Field(
        None,
        description="Scheduler address of an existing cluster (tcp://host:8786); "
        "unset starts a local cluster for the run.",
    )
    n_workers: int | None = Field(
        None, ge=1, le=512, description="Workers of the local cluster; unset = cores // 2."
    )
    processes: bool | None = Field(
        None,
        description="Local workers in processes of their own; unset = yes, unless the run "
        "is one batch on one worker (that worker runs inside the command, sharing its imports).",
    )


class LambdaSettings(BaseModel):
    """The AWS Lambda function that runs batches when a run asks for engine=lambda."""

    function: str | None = Field(
        None, description="Function name or ARN (deployments/lambda); a run may name another."
    )
    concurrency: int = Field(
        16, ge=1, le=1000, description="Batches in flight at once (keep <= reserved concurrency)."
    )
    max_attempts: int = Field(
        5, ge=1, le=20, description="Attempts per invocation on throttling or 5xx (botocore)."
    )


class QualitySettings(BaseModel):
    """Limits for input validation and the per-run Great Expectations suite."""

    max_pixels: int = Field(
        60_000_000,
        ge=1_000_000,
        le=1_000_000_000,
        description="Images with more pixels are rejected as decompression_bomb before decoding.",
    )
    max_rejected_share: float = Field(
        0.5, ge=0.0, le=1.0, description="A run whose rejected share exceeds this fails the suite."
    )
    on_failure: Literal["warn", "fail"] = Field(
        "warn", description="warn: log and record a failing suite; fail: also fail the run."
    )


class StorageSettings(BaseModel):
    """How objects are written to S3 (server-side encryption, tags), how long a storage call
    may take, and the largest file packshot reads."""

    sse: Literal["AES256", "aws:kms"] = Field(
        "AES256",
        description="Server-side encryption asked for on every S3 write: AES256 (SSE-S3) or "
        "aws:kms (SSE-KMS, with kms_key_id or the bucket's AWS-managed key).",
    )
    kms_key_id: str | None = Field(
        None,
        min_length=1,
        max_length=2048,
        description="KMS key id or ARN for aws:kms; unset uses the AWS-managed aws/s3 key.",
    )
    tags: dict[str, str] = Field(
        default_factory=lambda: {"producer": "packshot"},
        max_length=10,  # S3 allows at most 10 tags per object
        description="Tags put on every object packshot writes to S3 (at most 10).",
    )
    # issue 18: limits at the edges
    max_file_bytes: int = Field(
        200 * 2**20,
        ge=1024,
        le=50 * 2**30,
        description="Originals larger than this are rejected as file_too_large from their "
        "size, without being read or copied (default 200 MiB, far above any real photo).",
    )
    connect_timeout_s: float = Field(
        5.0, gt=0.0, le=120.0, description="Seconds an S3 connection may take to open."
    )
    read_timeout_s: float = Field(
        10.0, gt=0.0, le=600.0, description="Seconds an S3 call may wait for the answer."
    )
    max_attempts: int = Field(
        2, ge=1, le=10, description="Attempts per S3 call (the first included) on transient errors."
    )


class NotifySettings(BaseModel):
    """Who is told when a batch (one run) finishes, and how hard packshot tries."""

    webhook_url: str | None = Field(
        None, max_length=2048, description="URL that receives a signed JSON POST per batch."
    )
    webhook_secret: SecretStr | None = Field(
        None,
        description="HMAC-SHA256 key for the webhook signature; never logged or recorded.",
    )
    sqs_queue_url: str | None = Field(
        None, max_length=2048, description="SQS queue that receives the same JSON per batch."
    )
    retries: int = Field(4, ge=0, le=10, description="Webhook retries after the first try.")
    backoff_seconds: float = Field(
        1.0, ge=0.0, le=60.0, description="First retry delay; doubles each retry."
    )
    timeout_seconds: float = Field(
        10.0, gt=0.0, le=120.0, description="Timeout of one webhook request."
    )


class EventSettings(BaseModel):
    """How `packshot listen` and the Lambda bridge turn S3 events into runs."""

    deployment: str = Field(
        "process-product-images/events",
        min_length=3,
        description="Deployment (flow-name/deployment-name) that event-driven runs start.",
    )
    destination: str | None = Field(
        None, description="Destination URL of event-driven runs (the CLI's --dest wins)."
    )
    batch_size: int = Field(
        16, ge=1, le=1024, description="Most keys per started run (micro-batch size)."
    )
    window_seconds: float = Field(
        5.0,
        ge=0.0,
        le=600.0,
        description="Longest a key waits for its micro-batch to fill; keep it well under the "
        "queue's visibility timeout, since messages are deleted only after their run exists.",
    )
    wait_seconds: int = Field(
        10, ge=0, le=20, description="SQS long-poll wait per receive call (SQS allows 0..20)."
    )
    dedupe_memory: int = Field(
        100_000, ge=100, le=10_000_000, description="Object versions remembered for dedupe."
    )


class GeneratorSettings(BaseModel):
    """The background-generator plug-in (issue 15): an HTTP endpoint that paints backgrounds.

    Off (no url) by default: a template that asks for a generated background then gets its
    plain one and the warning generator_off.
    """

    url: str | None = Field(
        None,
        min_length=8,
        max_length=2048,
        description="POST endpoint of the generator (e.g. http://127.0.0.1:8765/v1/background, "
        "from `packshot generator serve`); unset turns generation off.",
    )
    api_key: SecretStr | None = Field(
        None,
        description="Sent as `Authorization: Bearer ...`; never logged, recorded or put in an "
        "artifact. PACKSHOT_GENERATOR__API_KEY, or a Prefect Secret block named in secret_block.",
    )
    secret_block: str | None = Field(
        None,
        min_length=1,
        max_length=255,
        description="Name of a Prefect Secret block holding the API key (wins over api_key).",
    )
    name: str = Field(
        "http", min_length=1, max_length=64, description="Recorded in the catalog's generator."
    )
    timeout_seconds: float = Field(
        60.0, gt=0.0, le=600.0, description="Timeout of one request (connect, send, answer)."
    )
    retries: int = Field(2, ge=0, le=10, description="Retries after the first try (5xx, 429, net).")
    backoff_seconds: float = Field(
        0.5, ge=0.0, le=60.0, description="First retry delay; doubles each retry, with jitter."
    )
    concurrency: int = Field(
        4, ge=1, le=256, description="Requests in flight at once, per worker process."
    )
    breaker_failures: int = Field(
        5,
        ge=1,
        le=1000,
        description="Consecutive failed requests after which the circuit opens: further "
        "creatives get their plain background at once, without calling.",
    )
    breaker_reset_seconds: float = Field(
        30.0, gt=0.0, le=3600.0, description="How long the circuit stays open before one trial."
    )


class UiSettings(BaseModel):
    """Where a run's artifacts point local outputs (issue 17): `packshot ui` serves a folder
    over HTTP on 127.0.0.1 and gives its workers these two, so links open from the browser."""

    files_url: str | None = Field(
        None, max_length=2048, description="HTTP URL that serves files_root (no trailing /)."
    )
    files_root: Path | None = Field(None, description="Local folder served at files_url.")
    presign_seconds: int = Field(
        7 * 24 * 3600,
        ge=60,
        le=7 * 24 * 3600,  # SigV4 presigned URLs live at most a week
        description="Lifetime of the presigned links to S3 outputs in a run's artifacts.",
    )


class PackshotSettings(BaseSettings):
    """All of packshot's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="PACKSHOT_", env_nested_delimiter="__", extra="ignore"
    )

    model: ModelSettings = Field(default_factory=ModelSettings)
    dask: DaskSettings = Field(default_factory=DaskSettings)
    aws_lambda: LambdaSettings = Field(default_factory=LambdaSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    events: EventSettings = Field(default_factory=EventSettings)
    generator: GeneratorSettings = Field(default_factory=GeneratorSettings)
    ui: UiSettings = Field(default_factory=UiSettings)
    batch_size: int = Field(64, ge=1, le=1024, description="Images per batch task.")
    scenes: str | None = Field(
        None,
        min_length=1,
        max_length=2048,
        description="Folder or s3:// prefix holding the scene photos and specs scene presets "
        "name (read like the photos); unset: packshot's own scenes/ folder.",
    )


def load_settings() -> PackshotSettings:
    """Read the settings from the environment (call once per command or flow run)."""
    return PackshotSettings()
