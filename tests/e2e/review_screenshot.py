"""The review-images run's page in a real headless Chromium, with screenshots.

    python -m tests.e2e.review_screenshot OUT_DIR

Starts a Prefect server with its UI (`prefect server start`, own PREFECT_HOME), builds a
destination with outputs waiting for review (tests/support/review.py), runs the flow until it
pauses for input, opens the run's page and its resume form in Chromium (Debian's package,
driven by Playwright), saves screenshots, and reports how many thumbnails the browser actually
drew (an <img> whose natural width is above 0). Then it answers the form and stops the server.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS

NAMES = ["bag.jpg", "ring.jpg", "shoe.jpg"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(home: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "true",
        "PREFECT_API_URL": "",
        "PREFECT_UI_API_URL": f"{base}/api",  # what the browser calls (default: port 4200)
        "PREFECT_SERVER_UI_API_URL": f"{base}/api",
    }
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
    server = subprocess.Popen(
        [*command, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/api/health", timeout=2):
                return server, base
        except OSError:
            time.sleep(0.5)
    server.terminate()
    raise RuntimeError("the Prefect server did not start")


def _paused_run(timeout: float = 90.0) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    paused = FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(state=paused))
            if runs:
                return str(runs[0].id)
            time.sleep(0.5)
    raise RuntimeError("the review run never paused")


def _drawn_thumbnails(page) -> int:
    return page.evaluate(
        "() => [...document.querySelectorAll('img')].filter("
        "i => i.src.startsWith('data:image/jpeg') && i.naturalWidth > 0).length"
    )


def _artifact_id(run_id: str) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        flow_run = ArtifactFilterFlowRunId(any_=[run_id])
        (artifact,) = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=flow_run))
        return str(artifact.id)


def _shoot(base: str, run_id: str, out: Path) -> dict[str, int]:
    from playwright.sync_api import sync_playwright

    seen = {}
    with sync_playwright() as play:
        browser = play.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{base}/runs/flow-run/{run_id}", wait_until="networkidle")
        page.wait_for_timeout(1500)
        page.screenshot(path=str(out / "review-run.png"), full_page=True)
        page.goto(f"{base}/artifacts/artifact/{_artifact_id(run_id)}", wait_until="networkidle")
        page.wait_for_timeout(1500)
        seen["artifact_page"] = _drawn_thumbnails(page)
        page.screenshot(path=str(out / "review-artifact.png"), full_page=True)
        page.goto(f"{base}/runs/flow-run/{run_id}", wait_until="networkidle")
        # a loaded machine renders the run page slowly: the button comes when its state does
        page.get_by_role("button", name="Resume").first.click(timeout=60_000)
        page.wait_for_timeout(2000)
        seen["resume_form"] = _drawn_thumbnails(page)
        page.screenshot(path=str(out / "review-resume-form.png"), full_page=True)
        browser.close()
    return seen


def main(out: Path) -> dict[str, int]:
    """Screenshots into `out`; the number of thumbnails drawn on each page."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        server, base = _start_server(Path(tmp) / "prefect")
        os.environ["PREFECT_API_URL"] = f"{base}/api"
        try:
            from prefect.flow_runs import resume_flow_run

            from flows.review_images import review_images
            from tests.support.review import waiting_destination

            _, dest, _ = waiting_destination(Path(tmp), NAMES)
            flow = threading.Thread(
                target=review_images,
                kwargs={"destination": str(dest), "poll_seconds": 1, "timeout_seconds": 300},
            )
            flow.start()
            run_id = _paused_run()
            try:
                seen = _shoot(base, run_id, out)
            finally:
                resume_flow_run(run_id, run_input={"reviewer": "screenshot"})
                flow.join(timeout=60)
        finally:
            os.environ.pop("PREFECT_API_URL", None)
            server.terminate()
            server.wait(timeout=30)
    return seen


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1] if len(sys.argv) > 1 else "review-screenshots"))))
