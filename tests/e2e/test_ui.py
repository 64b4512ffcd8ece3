"""`packshot ui` as a seller meets it: the stack starts, the form is a real form, a run
submitted from it in headless Chromium shows its images, table and progress.

Screenshots are kept in $PACKSHOT_UI_SHOTS (default: the test's temporary folder).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import SAMPLES
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.e2e, pytest.mark.model]

READY_LIMIT_S = 240  # server, cluster with the model, deployments, worker on a loaded machine
RUN_LIMIT_S = 180
PHOTOS = ["product.jpg", "car.jpg"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def stack(real_model_home: Path, tmp_path_factory: pytest.TempPathFactory):
    """A `packshot ui` process with its own home, photos and output folder under --files."""
    root = tmp_path_factory.mktemp("ui")
    files = root / "files"
    (files / "photos").mkdir(parents=True)
    for name in PHOTOS:
        shutil.copy(SAMPLES / name, files / "photos" / name)
    ready = root / "ready.json"
    argv = [sys.executable, "-c", "from deployments.cli import main; main()", "ui"]
    argv += ["--port", str(_free_port()), "--home", str(root / "home"), "--files", str(files)]
    argv += ["--ready-file", str(ready)]
    log = (root / "ui.log").open("w")
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=_env())
    try:
        urls = _wait_ready(process, ready, root / "ui.log")
        yield {**urls, "files_root": files, "root": root}
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
        log.close()


def _env() -> dict[str, str]:
    here = str(Path(__file__).resolve().parents[2])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([here, os.environ.get("PYTHONPATH", "")])}


def _wait_ready(process: subprocess.Popen, ready: Path, log: Path) -> dict[str, str]:
    deadline = time.monotonic() + READY_LIMIT_S
    while time.monotonic() < deadline:
        if ready.exists():
            return json.loads(ready.read_text())
        if process.poll() is not None:
            pytest.fail(f"packshot ui exited {process.returncode}:\n{log.read_text()[-3000:]}")
        time.sleep(1)
    pytest.fail(f"packshot ui not ready in {READY_LIMIT_S} s:\n{log.read_text()[-3000:]}")


def _api(stack, method: str, path: str, **kwargs) -> httpx.Response:
    """One call, tried again on a 503 (a busy database), as Prefect's own client does."""
    for wait in (0.5, 1, 2, 4, 0):
        reply = httpx.request(method, stack["api"] + path, timeout=30, **kwargs)
        if reply.status_code != 503 or not wait:
            return reply
        time.sleep(wait)
    return reply


@contextmanager
def _write_lock(database: Path):
    """Holds the server's SQLite write lock, as a run writing its states does for a moment."""
    connection = sqlite3.connect(database, isolation_level=None, timeout=60)
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        connection.execute("ROLLBACK")
        connection.close()


def _deployment(stack, name: str = "process-product-images/manual") -> dict:
    reply = _api(stack, "GET", f"/deployments/name/{name}")
    reply.raise_for_status()
    return reply.json()


def _wait_run(stack, run_id: str) -> dict:
    deadline = time.monotonic() + RUN_LIMIT_S
    while time.monotonic() < deadline:
        run = _api(stack, "GET", f"/flow_runs/{run_id}").json()
        if run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            return run
        time.sleep(1)
    pytest.fail(f"run {run_id} did not finish in {RUN_LIMIT_S} s")


def _open_artifact(page, stack, run_id: str, key: str) -> None:
    """The run's page, its Artifacts tab, then the artifact's own page."""
    page.goto(f"{stack['ui']}/runs/flow-run/{run_id}")
    page.get_by_text("Artifacts", exact=True).first.click(timeout=60_000)
    page.get_by_text(key, exact=True).first.click(timeout=30_000)
    page.wait_for_url("**/artifacts/artifact/**", timeout=30_000)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)  # the page fades in


def _runs_to(stack, destination: str) -> list[str]:
    runs = _api(stack, "POST", "/flow_runs/filter", json={}).json()
    return [run["id"] for run in runs if run["parameters"].get("destination") == destination]


def _submit(page, stack, destination: str) -> str:
    """Presses Submit until the form has created its run, as a seller does after "Oops": the UI
    does not retry a 503 from a busy database (see the test above). The form validates against
    the server first, which a loaded machine answers slowly."""
    refused: list[str] = []

    def note_refusal(reply) -> None:
        if reply.status >= 500 and any(c in reply.url for c in ("/create_flow_run", "/validate")):
            refused.append(f"{reply.request.method} {reply.url} -> {reply.status}")

    page.on("response", note_refusal)
    for _ in range(3):
        seen = len(refused)
        page.get_by_role("button", name="Submit").click()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(refused) == seen:
            if runs := _runs_to(stack, destination):
                return runs[0]
            page.wait_for_timeout(1000)  # lets the browser's responses reach `refused`
        if len(refused) == seen:
            break
        page.wait_for_timeout(1000)  # the form takes its button back
    pytest.fail(f"the form did not create a run; the server refused: {refused or 'nothing'}")


def test_the_form_describes_every_parameter_and_offers_choices(stack) -> None:
    schema = _deployment(stack)["parameter_openapi_schema"]
    properties = schema["properties"]
    assert all(p.get("description") for p in properties.values()), properties
    presets = schema["definitions"]["PresetName"]["enum"]
    assert "amazon-main" in presets and properties["presets"]["type"] == "array"
    assert "isnet-imgly" in properties["model"]["enum"]
    assert "anyOf" not in properties["dask_address"]  # a plain box, not a type toggle
    assert "empty starts a local cluster" in properties["dask_address"]["description"]


@pytest.mark.parametrize(
    "parameters", [{"presets": ["nope"]}, {"model": "nope"}, {"batch_size": 0}]
)
def test_unknown_names_are_refused_before_a_run_exists(stack, parameters: dict) -> None:
    deployment = _deployment(stack)
    body = {"parameters": {"source": "/x", "destination": "/y", **parameters}}
    reply = _api(stack, "POST", f"/deployments/{deployment['id']}/create_flow_run", json=body)
    assert reply.status_code in (409, 422), reply.text
    runs = _api(stack, "POST", "/flow_runs/filter", json={}).json()
    assert not any(r["parameters"].get("source") == "/x" for r in runs)


def test_the_catalog_writers_queue_has_its_limit(stack) -> None:
    reply = _api(stack, "GET", "/work_pools/packshot-process/queues/catalog-writers")
    assert reply.json()["concurrency_limit"] == 1


def test_a_busy_database_refuses_the_browser_once_and_the_server_log_says_why(stack) -> None:
    """Prefect's SQLite server answers 503 while another writer holds the database; its Python
    clients retry, its UI does not (PrefectHQ/prefect#16102), so the stack's log must say why."""
    deployment = _deployment(stack)
    path = f"/deployments/{deployment['id']}/create_flow_run"
    later = {"type": "SCHEDULED", "state_details": {"scheduled_time": "2099-01-01T00:00:00Z"}}
    body = {"parameters": {"source": "/busy", "destination": "/busy-out"}, "state": later}
    log = stack["root"] / "home" / "server.log"
    logged = log.read_text().count("database is locked")
    with _write_lock(stack["root"] / "home" / "prefect.db"):
        refused = httpx.post(stack["api"] + path, json=body, timeout=30)  # once, as the browser
    assert refused.status_code == 503, refused.text
    time.sleep(1)  # the server's log handler
    assert log.read_text().count("database is locked") > logged
    created = _api(stack, "POST", path, json=body)  # Submit again
    assert created.status_code == 201, created.text
    assert _runs_to(stack, "/busy-out") == [created.json()["id"]]


def test_a_missing_source_fails_at_once_with_its_reason(stack) -> None:
    deployment = _deployment(stack)
    missing = str(stack["files_root"] / "no-such-folder")
    body = {"parameters": {"source": missing, "destination": str(stack["root"] / "o")}}
    run = _api(stack, "POST", f"/deployments/{deployment['id']}/create_flow_run", json=body)
    finished = _wait_run(stack, run.json()["id"])
    assert finished["state"]["type"] == "FAILED"
    assert "does not exist" in finished["state"]["message"]


def test_a_run_submitted_from_the_form_shows_images_table_and_progress(stack, tmp_path) -> None:
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("PACKSHOT_UI_SHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    deployment = _deployment(stack)
    destination = str(stack["files_root"] / f"out-{uuid.uuid4().hex[:6]}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(f"{stack['ui']}/deployments/deployment/{deployment['id']}/run")
        boxes = page.locator("textarea")  # source, destination: the form's first two fields
        boxes.nth(0).wait_for(timeout=60_000)
        boxes.nth(0).fill(str(stack["files_root"] / "photos"))
        boxes.nth(1).fill(destination)
        page.screenshot(path=str(shots / "1-form.png"), full_page=True)
        try:
            run_id = _submit(page, stack, destination)
        except BaseException:  # what the form showed instead of a run, kept with the rest
            page.screenshot(path=str(shots / "1b-not-submitted.png"), full_page=True)
            raise
        page.goto(f"{stack['ui']}/runs/flow-run/{run_id}")
        page.wait_for_timeout(8000)  # the run is under way: its progress artifact moves
        page.screenshot(path=str(shots / "2-running.png"), full_page=True)
        finished = _wait_run(stack, run_id)
        assert finished["state"]["type"] == "COMPLETED", finished["state"]
        _open_artifact(page, stack, run_id, "progress")
        page.get_by_text("images (100%)").first.wait_for(timeout=30_000)  # its description
        page.screenshot(path=str(shots / "3-progress.png"), full_page=True)
        _open_artifact(page, stack, run_id, "before-after")
        page.locator("img[src^='data:image/jpeg']").first.wait_for(timeout=30_000)
        page.screenshot(path=str(shots / "4-before-after.png"), full_page=True)
        _open_artifact(page, stack, run_id, "run-images")
        page.locator("img[src^='data:image/jpeg']").first.wait_for(timeout=30_000)
        page.screenshot(path=str(shots / "5-run-images.png"), full_page=True)
        thumbnails = page.locator("img[src^='data:image/jpeg']")
        assert thumbnails.count() >= 2 * len(PHOTOS)  # before and after, per photo
        for name in PHOTOS:
            assert page.get_by_text(name).count() >= 1  # the per-image table's key column
        links = [a.get_attribute("href") for a in page.locator("a[href^='http://127.0.0.1']").all()]
        outputs = [href for href in links if href.endswith(".jpg") and "/amazon-main/" in href]
        assert outputs and httpx.get(outputs[0]).status_code == 200  # a link that opens
        browser.close()
    artifacts = _api(
        stack, "POST", "/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [run_id]}}}
    ).json()
    progress = [a for a in artifacts if a["type"] == "progress"]
    assert progress and progress[0]["data"] == 100.0
    assert _runs_to(stack, destination) == [run_id]  # pressing Submit again made no second run
