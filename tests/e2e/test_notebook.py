"""The analytics notebook, executed against the catalog of a real run."""

from __future__ import annotations

import os
from pathlib import Path

import nbclient
import nbformat
import pytest

from tasks.catalog import query
from tests.conftest import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.model]


def test_the_analytics_notebook_runs_on_a_real_catalog(run, tmp_path: Path, monkeypatch) -> None:
    _, dest, done = run
    assert done.returncode == 0, done.stderr[-2000:]
    figures = tmp_path / "figures"
    monkeypatch.setenv("PACKSHOT_CATALOG", str(dest / "catalog"))
    monkeypatch.setenv("PACKSHOT_FIGURES", str(figures))
    notebook = nbformat.read(REPO / "notebooks" / "catalog_analytics.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}
    )
    client.execute(env=dict(os.environ))
    printed = "".join(
        out.get("text", "") for cell in notebook.cells for out in cell.get("outputs", [])
    )
    rows = query(str(dest / "catalog"), "SELECT count(*) AS n FROM images").to_pylist()[0]["n"]
    assert rows >= 4 and f"{rows} catalog rows" in printed
    assert sorted(p.name for p in figures.glob("*.png")) == [
        "outcomes_and_reasons.png",
        "quality_metrics.png",
        "stage_timings.png",
        "volume_by_day.png",
    ]
