"""Settings: one pydantic-settings tree, read from `PACKSHOT_*` environment variables.

Nested concerns use a double underscore: `PACKSHOT_MODEL__HOME`, `PACKSHOT_DASK__ADDRESS`,
`PACKSHOT_QUALITY__ON_FAILURE`. Build it once where a command or flow starts (`load_settings()`)
and pass plain values down; nothing reads settings at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL = "isnet-imgly"


def _default_model_home() -> Path:
    return Path("~/.cache/packshot").expanduser()


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


class DaskSettings(BaseModel):
    """Which Dask cluster runs the batches."""

    address: str | None = Field(
        None,
        description="Scheduler address of an existing cluster (tcp://host:8786); "
        "unset starts a local cluster for the run.",
    )
    n_workers: int | None = Field(
        None, ge=1, le=512, description="Worker processes of the local cluster; unset = cores // 2."
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


class PackshotSettings(BaseSettings):
    """All of packshot's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="PACKSHOT_", env_nested_delimiter="__", extra="ignore"
    )

    model: ModelSettings = Field(default_factory=ModelSettings)
    dask: DaskSettings = Field(default_factory=DaskSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    batch_size: int = Field(8, ge=1, le=1024, description="Images per batch task.")


def load_settings() -> PackshotSettings:
    """Read the settings from the environment (call once per command or flow run)."""
    return PackshotSettings()
