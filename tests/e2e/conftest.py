"""The end-to-end run shared by the CLI and notebook tests: real model, real photos."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLES
from tests.support.aws_events import aws, moto_url, receiver  # noqa: F401 (pytest fixtures)

PHOTOS = ["product.jpg", "car.jpg", "animal.jpg"]
# The run renders every photo into these from its one mask.
PRESETS = ["amazon-main", "transparent", "shopify"]
PACKSHOT = str(Path(sys.executable).with_name("packshot"))


def packshot(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PACKSHOT, *args], capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="session")
def run(real_model_home: Path, tmp_path_factory: pytest.TempPathFactory):
    source = tmp_path_factory.mktemp("photos")
    for name in PHOTOS:
        shutil.copy(SAMPLES / name, source / name)
    (source / "readme.txt").write_text("a seller's note, not a photo")
    dest = tmp_path_factory.mktemp("out")
    done = packshot(
        "process",
        str(source),
        str(dest),
        "--json",
        "--batch-size",
        "2",
        "--preset",
        ",".join(PRESETS[:2]),
        "--preset",
        PRESETS[2],
    )
    return source, dest, done
