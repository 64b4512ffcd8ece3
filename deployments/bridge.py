"""S3 events -> runs of the `process-product-images` deployment (composition root).

`packshot listen` (SQS long-poll) and the Lambda handler both wire the Prefect-free bridge in
`tasks.s3_bridge` to Prefect's `run_deployment`; this is the only place the two meet.
"""

from __future__ import annotations

import logging
import re
import signal
import threading

from schemas.settings import PackshotSettings
from tasks.s3_bridge import SqsBridge, StartRun

logger = logging.getLogger("packshot.bridge")

_SQS_HOST = re.compile(r"^https://sqs[.-]([a-z0-9-]+)\.amazonaws\.com")


def deployment_starter(
    *,
    deployment: str,
    destination: str,
    presets: list[str] | None = None,
    model: str | None = None,
    catalog: str | None = None,
) -> StartRun:
    """A `StartRun` that creates a flow run of `deployment` and returns once it exists."""

    def start(*, source: str, keys: list[str], idempotency_key: str) -> str:
        from prefect.deployments import run_deployment

        parameters: dict[str, object] = {"source": source, "destination": destination}
        parameters["keys"] = keys
        optional = {"presets": presets, "model": model, "catalog": catalog}
        parameters.update({name: value for name, value in optional.items() if value})
        run = run_deployment(
            name=deployment,
            parameters=parameters,
            timeout=0,  # return as soon as the run exists; a worker runs it
            idempotency_key=idempotency_key,
            tags=["packshot-events"],
        )
        return str(run.id)

    return start


def sqs_client(queue_url: str):
    """A boto3 SQS client in the queue's region (AWS_ENDPOINT_URL honoured by botocore)."""
    import boto3

    match = _SQS_HOST.match(queue_url)
    return boto3.client("sqs", region_name=match.group(1)) if match else boto3.client("sqs")


def listen(
    *,
    queue_url: str,
    destination: str,
    settings: PackshotSettings,
    deployment: str | None = None,
    presets: list[str] | None = None,
    model: str | None = None,
    catalog: str | None = None,
    once: bool = False,
    stop: threading.Event | None = None,
) -> list[str]:
    """Long-poll `queue_url` until stopped (SIGINT/SIGTERM, or `once`); returns the runs."""
    events = settings.events
    bridge = SqsBridge(
        sqs_client(queue_url),
        queue_url,
        deployment_starter(
            deployment=deployment or events.deployment,
            destination=destination,
            presets=presets,
            model=model,
            catalog=catalog,
        ),
        batch_size=events.batch_size,
        window_seconds=events.window_seconds,
        wait_seconds=events.wait_seconds,
        dedupe_memory=events.dedupe_memory,
    )
    stop, restore = (stop, {}) if stop else _stop_on_signals()
    logger.info("Listening on %s", queue_url)
    try:
        while not stop.is_set():
            bridge.poll_once()
            if once:
                break
        bridge.drain()  # nothing received is left without a run
    finally:
        for sig, previous in restore.items():
            signal.signal(sig, previous)
    return bridge.run_ids


def _stop_on_signals() -> tuple[threading.Event, dict]:
    """An event set by SIGINT/SIGTERM, and the handlers to put back afterwards."""
    stop, previous = threading.Event(), {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    return stop, previous
