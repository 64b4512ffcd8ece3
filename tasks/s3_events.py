"""S3 object-created events, as they arrive on SQS or at a Lambda, decoded (Prefect-free).

Three shapes carry the same fact, "this object version now exists":

* an S3 event notification (`{"Records": [{"eventSource": "aws:s3", ...}]}`), whose keys are
  URL-encoded form-style (`%2F`, and `+` for a space);
* an EventBridge "Object Created" event (`{"detail-type": "Object Created", "source":
  "aws.s3", ...}`), whose keys are plain;
* either of them inside an SNS envelope (`{"Type": "Notification", "Message": "..."}`).

`s3:TestEvent`, sent when a bucket's notification configuration changes, carries no object.
S3 and SQS both deliver at least once, so the same object version can arrive many times:
`Deduper` remembers the versions already handed on, `MicroBatcher` gathers keys into runs.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus


class MalformedEvent(ValueError):
    """A message body that is not an S3 or EventBridge event packshot understands."""


@dataclass(frozen=True)
class ObjectEvent:
    """One object version that was created."""

    bucket: str
    key: str
    etag: str | None = None
    version: str | None = None
    sequencer: str | None = None

    @property
    def identity(self) -> tuple[str, str, str]:
        """What makes two deliveries the same: bucket, key and version (or ETag, sequencer)."""
        return (self.bucket, self.key, self.version or self.etag or self.sequencer or "")

    @property
    def source(self) -> str:
        return f"s3://{self.bucket}"


def decode(body: str | dict[str, Any]) -> list[ObjectEvent]:
    """The object-created events in one message body (a JSON string or its parsed form).

    Test events and other event types (removals, ACL changes) give an empty list; anything
    that is not an S3/EventBridge/SNS shape raises `MalformedEvent`.
    """
    message = _parse(body)
    if message.get("Type") == "Notification" and "Message" in message:  # SNS envelope
        return decode(message["Message"])
    if message.get("Event") == "s3:TestEvent":
        return []
    if "Records" in message:
        return [event for record in message["Records"] for event in _from_record(record)]
    if message.get("source") == "aws.s3" and "detail" in message:
        return _from_eventbridge(message)
    raise MalformedEvent(f"not an S3 event (fields: {', '.join(sorted(message))[:200]})")


def _parse(body: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(body, dict):
        return body
    try:
        message = json.loads(body)
    except (TypeError, ValueError) as exc:
        raise MalformedEvent(f"not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise MalformedEvent("not a JSON object")
    return message


def _from_record(record: dict[str, Any]) -> list[ObjectEvent]:
    if record.get("eventSource") == "aws:sqs":  # an SQS record handed to a Lambda
        return decode(record.get("body", ""))
    if record.get("eventSource") != "aws:s3":
        raise MalformedEvent(f"record from {record.get('eventSource')!r}, not aws:s3")
    if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
        return []
    try:
        bucket, obj = record["s3"]["bucket"]["name"], record["s3"]["object"]
        key = unquote_plus(obj["key"])  # S3 notifications encode keys form-style
    except (KeyError, TypeError) as exc:
        raise MalformedEvent(f"S3 record without {exc}") from None
    return [ObjectEvent(bucket, key, obj.get("eTag"), obj.get("versionId"), obj.get("sequencer"))]


def _from_eventbridge(message: dict[str, Any]) -> list[ObjectEvent]:
    if message.get("detail-type") != "Object Created":
        return []
    try:
        bucket, obj = message["detail"]["bucket"]["name"], message["detail"]["object"]
        key = obj["key"]  # EventBridge carries the key as it is
    except (KeyError, TypeError) as exc:
        raise MalformedEvent(f"EventBridge event without {exc}") from None
    etag = obj.get("etag") or obj.get("eTag")
    return [ObjectEvent(bucket, key, etag, obj.get("version-id"), obj.get("sequencer"))]


def runs_by_source(events: Iterable[ObjectEvent]) -> dict[str, list[str]]:
    """The keys to process per source root (`s3://bucket`), each key once, in arrival order."""
    runs: dict[str, dict[str, None]] = {}
    for event in events:
        runs.setdefault(event.source, {})[event.key] = None
    return {source: list(keys) for source, keys in runs.items()}


class Deduper:
    """The object versions already handed on, the oldest forgotten past `capacity`."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._seen: OrderedDict[tuple[str, str, str], None] = OrderedDict()

    def __contains__(self, event: ObjectEvent) -> bool:
        return event.identity in self._seen

    def remember(self, events: Iterable[ObjectEvent]) -> None:
        for event in events:
            self._seen[event.identity] = None
            self._seen.move_to_end(event.identity)
        while len(self._seen) > self.capacity:
            self._seen.popitem(last=False)


@dataclass
class Delivery:
    """One received message: its handle for deletion and the new events it brought."""

    message_id: str
    receipt: str
    events: list[ObjectEvent] = field(default_factory=list)


class MicroBatcher:
    """Gathers deliveries until `max_keys` keys are waiting or the oldest waited `window`.

    A delivery is never split: its message is deleted only once all its keys are in runs.
    """

    def __init__(
        self,
        max_keys: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_keys, self.window, self.clock = max_keys, window_seconds, clock
        self._waiting: list[Delivery] = []
        self._since: float | None = None

    def __len__(self) -> int:
        return sum(len(d.events) for d in self._waiting)

    def __contains__(self, event: ObjectEvent) -> bool:
        return any(e.identity == event.identity for d in self._waiting for e in d.events)

    def add(self, delivery: Delivery) -> None:
        if self._since is None:
            self._since = self.clock()
        self._waiting.append(delivery)

    def seconds_left(self) -> float | None:
        """Until the window closes; None when nothing waits."""
        if self._since is None:
            return None
        return max(0.0, self.window - (self.clock() - self._since))

    def due(self) -> bool:
        return bool(self._waiting) and (len(self) >= self.max_keys or self.seconds_left() == 0)

    def take(self) -> list[Delivery]:
        """The next micro-batch: whole deliveries up to `max_keys` keys (at least one)."""
        batch, keys = [], 0
        while self._waiting and (not batch or keys + len(self._waiting[0].events) <= self.max_keys):
            delivery = self._waiting.pop(0)
            batch.append(delivery)
            keys += len(delivery.events)
        self._since = self.clock() if self._waiting else None
        return batch
