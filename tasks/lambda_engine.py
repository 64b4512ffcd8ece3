"""Batches on AWS Lambda: one synchronous invocation per batch, no Prefect in here.

The function is the container image of `deployments/lambda/Dockerfile`, whose handler
(`deployments/lambda_batch.py`) runs the very `process_batch` a Dask task runs: it processes the
batch, writes the batch's catalog part, and returns the rows, which the flow merges into the
run's summary exactly as it merges rows coming back from Dask.

Payload both ways is JSON: `{"job": <BatchJob>}` in, `{"batch": n, "rows": [<CatalogRow>]}` out.
Rows are small (about 1 kB each), far below Lambda's 6 MB synchronous payload limit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any

from schemas.catalog import CatalogRow
from schemas.run import BatchJob

# The AWS API actions this module calls; deployments/iam/*.json may name no others for Lambda.
LAMBDA_ACTIONS: tuple[str, ...] = ("lambda:InvokeFunction",)

# Lambda's own ceiling is 15 minutes; a response never comes later than that.
INVOKE_READ_TIMEOUT_S = 905

Invoker = Callable[[str, bytes], bytes]
"""Sends one payload to a function and returns the response payload (raises on errors)."""


class LambdaBatchError(RuntimeError):
    """An invocation failed (the handler raised, or its answer does not fit the batch)."""


def batch_event(job: BatchJob) -> dict[str, Any]:
    """The event a batch invocation carries: the job as plain JSON values."""
    return {"job": job.model_dump(mode="json")}


def batch_response(job: BatchJob, rows: list[CatalogRow]) -> dict[str, Any]:
    """What the handler returns for `job`."""
    return {"batch": job.batch, "rows": [row.model_dump(mode="json") for row in rows]}


def rows_from_response(job: BatchJob, payload: dict[str, Any]) -> list[CatalogRow]:
    """The batch's rows from a handler's answer, checked to be one row per key, in order."""
    rows = [CatalogRow.model_validate(row) for row in payload.get("rows", [])]
    if payload.get("batch") != job.batch or [r.source_key for r in rows] != job.source_keys:
        raise LambdaBatchError(
            f"batch {job.batch}: the function answered for batch {payload.get('batch')} "
            f"with {len(rows)} rows for {len(job.source_keys)} keys"
        )
    return rows


def invoke_batch(job: BatchJob, function: str, invoker: Invoker) -> list[CatalogRow]:
    """Run one batch on the function and return its rows."""
    answer = invoker(function, json.dumps(batch_event(job)).encode())
    return rows_from_response(job, json.loads(answer))


@cache
def boto3_invoker(max_attempts: int = 5) -> Invoker:
    """An invoker on boto3's Lambda client (credentials and region from the AWS chain).

    botocore retries throttling (429) and 5xx itself, up to `max_attempts`, with backoff; a
    handler that raised comes back as `FunctionError` and is raised here, so the Prefect task
    around it can retry the batch.
    """
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "lambda",
        config=Config(
            retries={"max_attempts": max_attempts, "mode": "adaptive"},
            read_timeout=INVOKE_READ_TIMEOUT_S,
            connect_timeout=10,
            max_pool_connections=64,  # the flow invokes concurrently from one client
        ),
    )

    def invoke(function: str, payload: bytes) -> bytes:
        response = client.invoke(
            FunctionName=function, InvocationType="RequestResponse", Payload=payload
        )
        body = response["Payload"].read()
        if response.get("FunctionError"):
            raise LambdaBatchError(f"{function}: {_error_line(body)}")
        return body

    return invoke


def _error_line(body: bytes) -> str:
    """`Type: message` from Lambda's error payload (never the stack trace: it can hold paths)."""
    try:
        error = json.loads(body)
        return f"{error.get('errorType', 'Error')}: {error.get('errorMessage', '')}"[:500]
    except (ValueError, AttributeError):
        return body[:500].decode(errors="replace")
