"""The review run's page in headless Chromium shows the waiting images themselves."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.review_screenshot import CHROMIUM, main

pytestmark = pytest.mark.e2e


@pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason="needs Debian's chromium package")
def test_the_thumbnails_are_drawn_in_the_artifact_and_the_resume_form(tmp_path: Path) -> None:
    pytest.importorskip("playwright")
    seen = main(tmp_path)
    assert seen == {"artifact_page": 3, "resume_form": 3}
    for name in ("review-run.png", "review-artifact.png", "review-resume-form.png"):
        assert (tmp_path / name).stat().st_size > 10_000
