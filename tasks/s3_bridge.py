"""The bridge from S3 events to runs: SQS long-poll or a Lambda invocation (Prefect-free).

Whatever starts a run is passed in (`StartRun`): `packshot listen` and the Lambda handler give
one that calls Prefect's `run_deployment`; tests can give one that runs the flow in-process.
A message is deleted only after the runs for all its keys exist, so a crash loses nothing: the
message comes back after its visibility timeout, and the run's idempotency key and the
catalog make the second delivery a no-op.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from typing import Protocol

from tasks.s3_events import (
    Deduper,
    Delivery,
    MalformedEvent,
    MicroBatcher,
    ObjectEvent,
    decode,
    runs_by_source,
)

logger = logging.getLogger("packshot.bridge")

SQS_MAX_MESSAGES = 10  # SQS returns and deletes at most 10 messages per call
# The AWS API actions this module calls (DeleteMessageBatch is authorised as DeleteMessage);
# deployments/iam/*.json may grant no SQS action outside these and tasks.notify's.
SQS_ACTIONS: tuple[str, ...] = ("sqs:ReceiveMessage", "sqs:DeleteMessage")


class StartRun(Protocol):
    def __call__(self, *, source: str, keys: list[str], idempotency_key: str) -> str:
        """Create a run over `keys` under `source`; returns its id once it exists."""
        ...


def idempotency_key(events: Iterable[ObjectEvent]) -> str:
    """The same object versions give the same key, so Prefect creates their run only once."""
    identities = sorted({"\x1f".join(e.identity) for e in events})
    return "packshot-" + hashlib.sha256("\x1e".join(identities).encode()).hexdigest()[:40]


def start_runs(events: list[ObjectEvent], start_run: StartRun) -> list[str]:
    """One run per source bucket over the events' keys; returns the run ids."""
    by_source = runs_by_source(events)
    run_ids = []
    for source, keys in by_source.items():
        mine = [e for e in events if e.source == source]
        run_ids.append(start_run(source=source, keys=keys, idempotency_key=idempotency_key(mine)))
    return run_ids


class SqsBridge:
    """Long-polls one SQS queue and turns its S3 events into micro-batched runs."""

    def __init__(
        self,
        sqs,
        queue_url: str,
        start_run: StartRun,
        *,
        batch_size: int = 16,
        window_seconds: float = 5.0,
        wait_seconds: int = 10,
        dedupe_memory: int = 100_000,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.sqs, self.queue_url, self.start_run = sqs, queue_url, start_run
        self.wait_seconds = wait_seconds
        self.seen = Deduper(dedupe_memory)
        self.batcher = (
            MicroBatcher(batch_size, window_seconds, clock)
            if clock
            else MicroBatcher(batch_size, window_seconds)
        )
        self.run_ids: list[str] = []

    def poll_once(self) -> list[str]:
        """One receive call, then every micro-batch that is due; returns the runs started."""
        for message in self._receive():
            self._accept(message)
        started = []
        while self.batcher.due():
            started += self._flush(self.batcher.take())
        return started

    def drain(self) -> list[str]:
        """Start runs for everything still waiting (on shutdown)."""
        started = []
        while len(self.batcher):
            started += self._flush(self.batcher.take())
        return started

    def _receive(self) -> list[dict]:
        left = self.batcher.seconds_left()
        wait = self.wait_seconds if left is None else min(self.wait_seconds, int(left))
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=SQS_MAX_MESSAGES,
            WaitTimeSeconds=wait,
        )
        return response.get("Messages", [])

    def _accept(self, message: dict) -> None:
        try:
            events = decode(message["Body"])
        except MalformedEvent as exc:
            # Left on the queue: after maxReceiveCount the redrive policy moves it to the DLQ.
            logger.warning("Message %s is not an S3 event: %s", message["MessageId"], exc)
            return
        fresh, unique = [], set()
        for event in events:
            if event in self.seen or event in self.batcher or event.identity in unique:
                continue
            unique.add(event.identity)
            fresh.append(event)
        delivery = Delivery(message["MessageId"], message["ReceiptHandle"], fresh)
        if fresh:
            self.batcher.add(delivery)
        else:  # a test event or a repeated delivery: nothing to run
            self._delete([delivery])

    def _flush(self, deliveries: list[Delivery]) -> list[str]:
        events = [event for delivery in deliveries for event in delivery.events]
        try:
            run_ids = start_runs(events, self.start_run)
        except Exception as exc:  # the messages stay, come back and are retried
            logger.error("Could not start a run for %d keys: %s", len(events), exc)
            return []
        self.seen.remember(events)
        self._delete(deliveries)
        self.run_ids += run_ids
        logger.info("Started %s for %d keys", ", ".join(run_ids), len(events))
        return run_ids

    def _delete(self, deliveries: list[Delivery]) -> None:
        for start in range(0, len(deliveries), SQS_MAX_MESSAGES):
            chunk = deliveries[start : start + SQS_MAX_MESSAGES]
            response = self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": d.receipt} for i, d in enumerate(chunk)],
            )
            for failure in response.get("Failed", []):
                logger.warning("SQS kept a message: %s", failure.get("Code"))


def handle_lambda_event(event: dict, start_run: StartRun) -> dict:
    """An S3, EventBridge or SQS-batch Lambda event -> runs.

    For an SQS batch the answer lists the messages whose runs could not be started
    (`batchItemFailures`), so Lambda returns only those to the queue.
    """
    records = event.get("Records") or []
    if records and all(r.get("eventSource") == "aws:sqs" for r in records):
        return _handle_sqs_batch(records, start_run)
    run_ids = start_runs(_unique(decode(event)), start_run)
    return {"runs": run_ids}


def _handle_sqs_batch(records: list[dict], start_run: StartRun) -> dict:
    """The whole batch is one micro-batch: the event source mapping's BatchSize and
    MaximumBatchingWindowInSeconds play the part of `events.batch_size` / `window_seconds`."""
    failures, events, ids = [], [], []
    for record in records:
        try:
            events += decode(record.get("body", ""))
            ids.append(record.get("messageId"))
        except MalformedEvent as exc:  # back to the queue, and on to its DLQ
            logger.warning("Message %s is not an S3 event: %s", record.get("messageId"), exc)
            failures.append({"itemIdentifier": record.get("messageId")})
    try:
        run_ids = start_runs(_unique(events), start_run) if events else []
    except Exception as exc:  # Prefect unreachable: every message goes back
        logger.error("Could not start a run for %d keys: %s", len(events), exc)
        return {"runs": [], "batchItemFailures": [{"itemIdentifier": i} for i in ids] + failures}
    return {"runs": run_ids, "batchItemFailures": failures}


def _unique(events: list[ObjectEvent]) -> list[ObjectEvent]:
    return list({event.identity: event for event in events}.values())
