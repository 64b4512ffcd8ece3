"""The review-images flow end to end: a real Prefect server, a paused run, a real run input."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
from prefect.client.schemas.objects import StateType
from prefect.flow_runs import resume_flow_run

from flows.review_images import review_images
from tasks import review
from tasks.catalog import query
from tests.support.review import waiting_destination


def _paused_run_id(timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
                )
            )
            if runs:
                return runs[0].id
            time.sleep(0.5)
    raise AssertionError("the review run never paused for input")


def test_a_reviewer_approves_one_image_and_rejects_another(prefect_harness, tmp_path: Path) -> None:
    source, dest, catalog = waiting_destination(tmp_path, ["bag.jpg", "ring.jpg", "shoe.jpg"])
    before = review.status_counts(catalog)
    assert before == {"needs_review": 3, "processed": 1}
    result: dict = {}

    def run() -> None:
        result["state"] = review_images(
            destination=str(dest), poll_seconds=1, timeout_seconds=120, return_state=True
        )

    thread = threading.Thread(target=run)
    thread.start()
    run_id = _paused_run_id()
    with get_client(sync_client=True) as client:
        board = client.read_flow_run_input(run_id, "paused-1-description")  # the form's text
    assert board.count("data:image/jpeg;base64,") == 3
    resume_flow_run(
        run_id,
        run_input={
            "reviewer": "ana",
            "decision_1": "approve",
            "decision_2": "reject",
            "reason_2": "the ring kept the background inside",
            "decision_3": "wait",
            "reason_3": "",
        },
    )
    thread.join(timeout=120)
    state = result["state"]
    assert state.is_completed(), state.message
    outcome = state.result()
    assert outcome.approved == ["bag.jpg:amazon-main"]
    assert outcome.rejected == ["ring.jpg:amazon-main"]

    # approved: moved to the preset's folder; rejected: original quarantined; waiting: stays
    assert (dest / "amazon-main" / "bag.jpg").is_file()
    assert not (dest / "_review" / "amazon-main" / "bag.jpg").exists()
    assert (dest / "_quarantine" / "ring.jpg").read_bytes() == (source / "ring.jpg").read_bytes()
    assert not (dest / "_review" / "amazon-main" / "ring.jpg").exists()
    assert (dest / "_review" / "amazon-main" / "shoe.jpg").is_file()

    # decisions appended, never rewritten; seen = processed + rejected + failed + needs_review
    after = review.status_counts(catalog)
    assert after == {"processed": 2, "rejected": 1, "needs_review": 1}
    assert sum(after.values()) == sum(before.values())
    parts = sorted((dest / "catalog").glob("date=*/*.parquet"))  # the audit table aside
    assert len(parts) == 3
    table = query(
        catalog,
        "SELECT source_key, status, reason, detail, review_decision, reviewer FROM latest "
        "WHERE review_decision IS NOT NULL ORDER BY source_key",
    ).to_pylist()
    assert table == [
        {
            "source_key": "bag.jpg",
            "status": "processed",
            "reason": None,
            "detail": None,
            "review_decision": "approved",
            "reviewer": "ana",
        },
        {
            "source_key": "ring.jpg",
            "status": "rejected",
            "reason": "rejected_by_reviewer",
            "detail": "the ring kept the background inside",
            "review_decision": "rejected",
            "reviewer": "ana",
        },
    ]


def test_deciding_twice_is_refused(tmp_path: Path) -> None:
    _, dest, catalog = waiting_destination(tmp_path, ["bag.jpg"])
    row = review.find(catalog, "bag.jpg", "amazon-main")
    review.decide(row, "approved", catalog=catalog, reviewer="ana")
    with pytest.raises(review.ReviewError):
        review.find(catalog, "bag.jpg", "amazon-main")
    decided = row.model_copy(update={"status": "processed"})
    with pytest.raises(review.ReviewError):
        review.decide(decided, "approved", catalog=catalog, reviewer="ana")
    assert review.status_counts(catalog) == {"processed": 2}


def test_the_review_deployment_fits_the_flow() -> None:
    import jsonschema
    import yaml
    from prefect.utilities.callables import parameter_schema

    spec = yaml.safe_load((Path(__file__).parents[2] / "deployments/prefect.yaml").read_text())
    deployment = next(d for d in spec["deployments"] if d["name"] == "review")
    assert deployment["entrypoint"] == "flows.review_images:review_images"  # as Dask imports it
    assert "destination" not in deployment["parameters"]  # asked for in the run's form
    schema = parameter_schema(review_images).model_dump_for_openapi()
    jsonschema.validate({**deployment["parameters"], "destination": "s3://out"}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"destination": "s3://out", "limit": 0}, schema)
