"""The review run's page in headless Chromium shows the waiting images themselves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.browser import CHROMIUM

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason="needs Debian's chromium package")
def test_the_thumbnails_are_drawn_in_the_artifact_and_the_resume_form(tmp_path: Path) -> None:
    pytest.importorskip("playwright")
    # A process of its own: a Prefect test harness left up by other tests of the session would
    # otherwise own this process's settings, and the run would be looked for there.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    done = subprocess.run(
        [sys.executable, "-m", "tests.e2e.review_screenshot", str(tmp_path)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"artifact_page": 3, "resume_form": 3}
    for name in ("review-run.png", "review-artifact.png", "review-resume-form.png"):
        assert (tmp_path / name).stat().st_size > 10_000
