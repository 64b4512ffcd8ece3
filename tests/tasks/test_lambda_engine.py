"""The Lambda dispatcher's boto3 path against moto's Lambda API over HTTP.

moto runs no function code without Docker; its "simple" Lambda answers each invoke with the next
body queued through its API. The test queues the answer the real handler gives for the same
event (computed in this process), so what is checked here is the real client path: the
payload boto3 sends, the response it reads back, and how rows are checked on the way in.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.request import Request, urlopen

import pytest

from deployments.lambda_batch import handler
from schemas.models import ModelRef
from schemas.run import BatchJob
from tasks import lambda_engine
from tests.support.images import encoded, product_photo
from tests.support.jobs import preset_fields
from tests.support.s3 import s3  # noqa: F401 (fixture; moto_endpoint is in tests/conftest.py)


def _post(url: str, body: dict) -> None:
    request = Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urlopen(request) as response:
        assert response.status == 201


@pytest.fixture
def function(s3, moto_endpoint: str) -> Iterator[str]:  # noqa: F811
    """A function named packshot-batch in moto's (Docker-free) Lambda."""
    import boto3

    _post(f"{moto_endpoint}/moto-api/config", {"lambda": {"use_docker": False}})
    iam = boto3.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName="packshot-batch", AssumeRolePolicyDocument=json.dumps(trust))
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    boto3.client("lambda").create_function(
        FunctionName="packshot-batch",
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="handler.handler",
        Code={"ZipFile": code.getvalue()},
    )
    lambda_engine.boto3_invoker.cache_clear()  # its client must talk to this endpoint
    yield "packshot-batch"
    lambda_engine.boto3_invoker.cache_clear()


@pytest.fixture
def job(tmp_path: Path, tiny_ref: ModelRef, model_home: Path) -> BatchJob:
    keys = ["a.jpg", "b.txt"]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jpg").write_bytes(encoded(product_photo((700, 560))))
    (tmp_path / "in" / "b.txt").write_text("not a photo")
    return BatchJob(
        run_id="r",
        batch=5,
        source=str(tmp_path / "in"),
        source_keys=keys,
        destination=str(tmp_path / "out"),
        catalog=str(tmp_path / "out" / "catalog"),
        **preset_fields(keys, "amazon-main"),
        model=tiny_ref,
        model_home=str(model_home),
        onnx_threads=1,
        max_pixels=50_000_000,
    )


def test_invoke_batch_through_boto3_returns_the_handlers_rows(
    function: str,
    job: BatchJob,
    moto_endpoint: str,  # noqa: F811
    model_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PACKSHOT_MODEL__HOME", str(model_home))
    answer = json.dumps(handler(lambda_engine.batch_event(job), None))
    _post(
        f"{moto_endpoint}/moto-api/static/lambda-simple/response",
        {"results": [answer, json.dumps({"batch": 4, "rows": []})], "region": "us-east-1"},
    )
    invoker = lambda_engine.boto3_invoker()

    rows = lambda_engine.invoke_batch(job, function, invoker)
    assert [(r.source_key, r.status, r.reason) for r in rows] == [
        ("a.jpg", "processed", None),
        ("b.txt", "rejected", "not_an_image"),
    ]
    # an answer for another batch is an error, never rows merged into the wrong place
    with pytest.raises(lambda_engine.LambdaBatchError, match="answered for batch 4"):
        lambda_engine.invoke_batch(job, function, invoker)


def test_a_handler_error_is_raised_with_its_type_and_message_only() -> None:
    body = json.dumps(
        {"errorType": "ModelMismatch", "errorMessage": "rebuild", "stackTrace": ["/secret/path"]}
    ).encode()
    assert lambda_engine._error_line(body) == "ModelMismatch: rebuild"
    assert lambda_engine._error_line(b"\xff not json") == "\ufffd not json"
