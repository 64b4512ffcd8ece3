"""What packshot tells the shop when a batch (one run) finishes, and how each telling went."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

BATCH_COMPLETED = "packshot.batch.completed"
BATCH_FAILED = "packshot.batch.failed"

# Header names of a webhook delivery: receivers recompute HMAC-SHA256(secret, f"{ts}.{body}")
# and reject stale timestamps, so a captured request cannot be replayed later.
TIMESTAMP_HEADER = "X-Packshot-Timestamp"
SIGNATURE_HEADER = "X-Packshot-Signature"
EVENT_HEADER = "X-Packshot-Event"
DELIVERY_HEADER = "X-Packshot-Delivery"


class NoticeItem(BaseModel):
    """One original of the batch and what became of it."""

    source_uri: str
    preset: str | None = None
    status: str
    reason: str | None = None
    outputs: list[str] = Field(default_factory=list)


class BatchNotice(BaseModel):
    """The JSON body of a webhook POST and of the SQS message, one per finished batch."""

    event: str = Field(description=f"{BATCH_COMPLETED} or {BATCH_FAILED}.")
    run_id: str
    seen: int = 0
    processed: int = 0
    rejected: int = 0
    failed: int = 0
    catalog: str | None = None
    report: str | None = None
    message: str | None = Field(None, description="Why the run failed (failed batches only).")
    items: list[NoticeItem] = Field(default_factory=list)
    sent_at: datetime


class DeliveryRecord(BaseModel):
    """How one notification went; failures are recorded here, never raised."""

    channel: str = Field(description="webhook | sqs | prefect-event.")
    target: str = Field(description="Where it went, with credentials and query string removed.")
    ok: bool
    attempts: int = 0
    status_code: int | None = None
    error: str | None = None
