"""The flow with engine=lambda: batches go out as Lambda invocations, rows come back merged.

moto cannot execute a Lambda function without Docker, so the invoker here calls the real
handler (deployments/lambda_batch.py) in this process with the exact JSON payload boto3 would
send; everything else is real: the flow, its tasks, retries, and S3 (moto's server over HTTP).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from deployments.lambda_batch import handler
from flows.process_product_images import process_product_images
from tasks import catalog, lambda_engine
from tests.support.images import encoded, product_photo
from tests.support.s3 import s3  # noqa: F401 (fixture; moto_endpoint is in tests/conftest.py)


class InProcessLambda:
    """Stands in for boto3's invoke: the handler, one call per payload, with bookkeeping."""

    def __init__(self, fail_first_call_of_batch: int) -> None:
        self.lock = threading.Lock()
        self.in_flight = self.most_in_flight = 0
        self.calls: list[tuple[str, int]] = []
        self.fail_batch = fail_first_call_of_batch

    def __call__(self, function: str, payload: bytes) -> bytes:
        event = json.loads(payload)
        batch = event["job"]["batch"]
        with self.lock:
            self.calls.append((function, batch))
            first = [b for _, b in self.calls].count(batch) == 1
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if batch == self.fail_batch and first:  # a transient error: the task retries it
                raise lambda_engine.LambdaBatchError(f"{function}: Runtime.ExitError: OOM")
            return json.dumps(handler(event, None)).encode()
        finally:
            with self.lock:
                self.in_flight -= 1


def test_flow_sends_batches_to_lambda_and_merges_rows_like_dask(
    prefect_harness,
    s3,  # noqa: F811
    model_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PACKSHOT_MODEL__HOME", str(model_home))
    monkeypatch.setenv("PACKSHOT_AWS_LAMBDA__CONCURRENCY", "2")
    fake = InProcessLambda(fail_first_call_of_batch=1)
    monkeypatch.setattr(lambda_engine, "boto3_invoker", lambda max_attempts=5: fake)
    s3.create_bucket(Bucket="uploads")
    s3.create_bucket(Bucket="media")
    for index in range(7):
        body = encoded(product_photo((700 + 10 * index, 560)))
        s3.put_object(Bucket="uploads", Key=f"raw/item-{index}.jpg", Body=body)
    s3.put_object(Bucket="uploads", Key="raw/notes.txt", Body=b"not a photo")

    state = process_product_images(
        source="s3://uploads/raw",
        destination="s3://media/packshots",
        model=str(model_home / "custom" / "tiny-isnet.onnx"),
        batch_size=2,
        engine="lambda",
        lambda_function="packshot-batch",
        return_state=True,
    )
    assert state.is_completed(), state.message
    summary = state.result()
    assert (summary.seen, summary.processed, summary.rejected, summary.failed) == (8, 7, 1, 0)
    assert summary.reasons == {"not_an_image": 1}
    assert sorted(summary.outputs)[0] == "s3://media/packshots/amazon-main/item-0.jpg"
    # the run records what 1,000 images like these cost on each engine, in its report too
    assert summary.cost is not None and summary.cost.images == 8
    assert [e.engine for e in summary.cost.engines] == ["lambda", "fargate", "local"]
    key = summary.report.removeprefix("s3://media/")
    report = json.loads(s3.get_object(Bucket="media", Key=key)["Body"].read())
    assert report["cost"]["vcpu_seconds_per_image"] == summary.cost.vcpu_seconds_per_image

    # four batches, batch 1 twice (its first call failed and the task retried it)
    assert sorted(fake.calls) == [("packshot-batch", b) for b in (0, 1, 1, 2, 3)]
    assert fake.most_in_flight <= 2
    # the catalog holds the parts the function wrote: one per batch, every input once
    parts = s3.list_objects_v2(Bucket="media", Prefix="packshots/catalog/date=")["Contents"]
    assert len([p for p in parts if p["Key"].endswith(".parquet")]) == 4
    counts = catalog.query(
        "s3://media/packshots/catalog",
        "SELECT batch, count(*) AS n FROM images GROUP BY batch ORDER BY batch",
    ).to_pylist()
    assert counts == [{"batch": b, "n": 2} for b in range(4)]


def test_engine_lambda_without_a_function_fails_the_run(
    prefect_harness, tmp_path: Path, model_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PACKSHOT_MODEL__HOME", str(model_home))
    monkeypatch.delenv("PACKSHOT_AWS_LAMBDA__FUNCTION", raising=False)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jpg").write_bytes(encoded(product_photo((700, 560))))
    state = process_product_images(
        source=str(tmp_path / "in"),
        destination=str(tmp_path / "out"),
        model=str(model_home / "custom" / "tiny-isnet.onnx"),
        engine="lambda",
        return_state=True,
    )
    assert state.is_failed() and "PACKSHOT_AWS_LAMBDA__FUNCTION" in state.message
