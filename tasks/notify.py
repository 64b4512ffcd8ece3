"""Signed webhook POSTs and SQS messages for finished batches (Prefect-free).

A webhook delivery carries `X-Packshot-Timestamp` (unix seconds) and `X-Packshot-Signature`
(`v1=` + hex HMAC-SHA256 of `timestamp + "." + body` under the shared secret). 5xx, 429,
timeouts and connection errors are retried with exponential backoff; anything else, and the
last failure, is returned as a `DeliveryRecord` with ok=False. Nothing here raises for a
receiver's failure, and no record or message carries the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import httpx

from schemas.catalog import CatalogRow, Outcome
from schemas.notify import (
    BATCH_COMPLETED,
    BATCH_FAILED,
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    BatchNotice,
    DeliveryRecord,
    NoticeItem,
)
from schemas.run import RunSummary
from schemas.settings import NotifySettings

SIGNATURE_VERSION = "v1"
REPLAY_TOLERANCE_SECONDS = 300  # receivers should refuse deliveries older than this
# The AWS API actions this module calls (checked against deployments/iam/*.json by a test).
SQS_ACTIONS: tuple[str, ...] = ("sqs:SendMessage",)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value for `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={digest.hexdigest()}"


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now: float | None = None,
    tolerance: float = REPLAY_TOLERANCE_SECONDS,
) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent."""
    try:
        age = (time.time() if now is None else now) - int(timestamp)
    except ValueError:
        return False
    return abs(age) <= tolerance and hmac.compare_digest(sign(secret, timestamp, body), signature)


def redact(url: str) -> str:
    """`url` without user info, query or fragment (they may hold tokens)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _retryable(status: int) -> bool:
    return status >= 500 or status == 429


def post_webhook(
    url: str,
    notice: BatchNotice,
    *,
    secret: str | None,
    retries: int = 4,
    backoff_seconds: float = 1.0,
    timeout_seconds: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryRecord:
    """POST `notice` to `url`, signed when a secret is set; retried on transient failures."""
    body = notice.model_dump_json().encode()
    delivery = uuid.uuid4().hex  # the same on every retry, so receivers can dedupe
    record = DeliveryRecord(channel="webhook", target=redact(url), ok=False)
    with httpx.Client(timeout=timeout_seconds, follow_redirects=False) as client:
        for attempt in range(retries + 1):
            if attempt:
                sleep(backoff_seconds * 2 ** (attempt - 1))
            record.attempts = attempt + 1
            headers = _headers(notice.event, delivery, body, secret)
            try:
                response = client.post(url, content=body, headers=headers)
            except httpx.TransportError as exc:  # timeouts, refused connections, resets
                record.status_code, record.error = None, type(exc).__name__
                continue
            record.status_code = response.status_code
            if response.is_success:
                record.ok, record.error = True, None
                return record
            record.error = f"HTTP {response.status_code}"
            if not _retryable(response.status_code):
                return record
    return record


def _headers(event: str, delivery: str, body: bytes, secret: str | None) -> dict[str, str]:
    timestamp = str(int(time.time()))  # signed afresh per attempt, so retries stay recent
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "packshot-notify/1",
        EVENT_HEADER: event,
        DELIVERY_HEADER: delivery,
        TIMESTAMP_HEADER: timestamp,
    }
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, timestamp, body)
    return headers


def send_sqs(queue_url: str, notice: BatchNotice, *, sqs_client) -> DeliveryRecord:
    """Put `notice` on an SQS queue; a refusal is recorded, not raised."""
    record = DeliveryRecord(channel="sqs", target=redact(queue_url), ok=False, attempts=1)
    try:
        sqs_client.send_message(
            QueueUrl=queue_url,
            MessageBody=notice.model_dump_json(),
            MessageAttributes={"event": {"DataType": "String", "StringValue": notice.event}},
        )
    except Exception as exc:  # botocore raises many types; the record says which
        record.error = type(exc).__name__
        return record
    record.ok = True
    return record


def completed_notice(summary: RunSummary, rows: list[CatalogRow]) -> BatchNotice:
    """The notice for a run that finished (rejected and failed images included)."""
    return BatchNotice(
        event=BATCH_COMPLETED,
        run_id=summary.run_id,
        seen=summary.seen,
        processed=summary.processed,
        rejected=summary.rejected,
        failed=summary.failed,
        catalog=summary.catalog,
        report=summary.report,
        items=[
            NoticeItem(
                source_uri=row.source_uri,
                preset=row.preset,
                status=row.status,
                reason=row.reason,
                # an output waiting for review is not ready: the shop hears of it on approval
                outputs=[] if row.status == Outcome.NEEDS_REVIEW else row.output_keys,
            )
            for row in rows
        ],
        sent_at=datetime.now(UTC),
    )


def failed_notice(run_id: str, message: str | None) -> BatchNotice:
    """The notice for a run that could not finish."""
    return BatchNotice(
        event=BATCH_FAILED,
        run_id=run_id,
        message=(message or "")[:2000] or None,
        sent_at=datetime.now(UTC),
    )


def deliver(
    notice: BatchNotice, settings: NotifySettings, *, sqs_client=None
) -> list[DeliveryRecord]:
    """Send `notice` on every configured channel; one record per channel."""
    records = []
    if settings.webhook_url:
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
        records.append(
            post_webhook(
                settings.webhook_url,
                notice,
                secret=secret,
                retries=settings.retries,
                backoff_seconds=settings.backoff_seconds,
                timeout_seconds=settings.timeout_seconds,
            )
        )
    if settings.sqs_queue_url:
        client = sqs_client or _sqs_client()
        records.append(send_sqs(settings.sqs_queue_url, notice, sqs_client=client))
    return records


def _sqs_client():
    import boto3  # the standard credential chain; AWS_ENDPOINT_URL is honoured by botocore

    return boto3.client("sqs")
