from __future__ import annotations

import json
from urllib.parse import quote_plus

import pytest

from tasks.s3_events import (
    Deduper,
    Delivery,
    MalformedEvent,
    MicroBatcher,
    ObjectEvent,
    decode,
    runs_by_source,
)

KEY = "shelf/red shoe+1 (ü).jpg"


def s3_record(key: str, *, name: str = "ObjectCreated:Put", etag: str = "abc") -> dict:
    return {
        "eventSource": "aws:s3",
        "eventName": name,
        "s3": {"bucket": {"name": "in"}, "object": {"key": quote_plus(key), "eTag": etag}},
    }


def test_s3_notification_keys_are_url_decoded_with_plus_as_space() -> None:
    body = json.dumps({"Records": [s3_record(KEY), s3_record("a+b.jpg")]})
    events = decode(body)
    assert [e.key for e in events] == [KEY, "a+b.jpg"]
    assert quote_plus("a+b.jpg") == "a%2Bb.jpg"  # a literal plus arrives encoded
    assert decode(
        json.dumps(
            {
                "Records": [
                    {
                        **s3_record("x"),
                        "s3": {"bucket": {"name": "in"}, "object": {"key": "my+photo%281%29.jpg"}},
                    }
                ]
            }
        )
    )[0].key == ("my photo(1).jpg")
    assert events[0] == ObjectEvent("in", KEY, "abc", None, None)


def test_eventbridge_keys_are_taken_as_they_are() -> None:
    body = {
        "version": "0",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "detail": {
            "bucket": {"name": "in"},
            "object": {"key": "a+b c.jpg", "etag": "e1", "version-id": "v1", "sequencer": "s"},
        },
    }
    assert decode(json.dumps(body)) == [ObjectEvent("in", "a+b c.jpg", "e1", "v1", "s")]
    assert decode({**body, "detail-type": "Object Deleted"}) == []


def test_test_events_removals_and_sns_envelopes() -> None:
    assert decode('{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"in"}') == []
    removed = {"Records": [s3_record("gone.jpg", name="ObjectRemoved:Delete")]}
    assert decode(json.dumps(removed)) == []
    wrapped = {"Type": "Notification", "Message": json.dumps({"Records": [s3_record(KEY)]})}
    assert [e.key for e in decode(json.dumps(wrapped))] == [KEY]
    sqs_record = {"Records": [{"eventSource": "aws:sqs", "body": json.dumps(wrapped)}]}
    assert [e.key for e in decode(sqs_record)] == [KEY]


@pytest.mark.parametrize("body", ["not json", "[1, 2]", '{"hello": 1}', '{"Records": [{}]}'])
def test_malformed_bodies_raise(body: str) -> None:
    with pytest.raises(MalformedEvent):
        decode(body)


def test_identity_prefers_version_then_etag_and_runs_group_by_bucket() -> None:
    a = ObjectEvent("in", "k", etag="e", version="v")
    assert a.identity == ("in", "k", "v")
    assert ObjectEvent("in", "k", etag="e").identity == ("in", "k", "e")
    events = [
        a,
        ObjectEvent("in", "k", etag="e2"),
        ObjectEvent("other", "k"),
        ObjectEvent("in", "j"),
    ]
    assert runs_by_source(events) == {"s3://in": ["k", "j"], "s3://other": ["k"]}


def test_deduper_forgets_the_oldest_past_capacity() -> None:
    seen = Deduper(capacity=2)
    first, second, third = (ObjectEvent("b", k, etag="e") for k in "xyz")
    seen.remember([first, second])
    assert first in seen and ObjectEvent("b", "x", etag="other") not in seen
    seen.remember([third])
    assert first not in seen and second in seen and third in seen


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _delivery(n: int, tag: str) -> Delivery:
    return Delivery(tag, f"r-{tag}", [ObjectEvent("b", f"{tag}{i}") for i in range(n)])


def test_micro_batches_close_on_size() -> None:
    batcher = MicroBatcher(max_keys=3, window_seconds=60, clock=Clock())
    batcher.add(_delivery(2, "a"))
    assert not batcher.due()
    batcher.add(_delivery(2, "b"))
    assert batcher.due() and len(batcher) == 4
    assert [d.message_id for d in batcher.take()] == ["a"]  # whole deliveries, <= 3 keys
    assert [d.message_id for d in batcher.take()] == ["b"]
    assert not batcher.due() and batcher.seconds_left() is None


def test_micro_batches_close_on_time_window() -> None:
    clock = Clock()
    batcher = MicroBatcher(max_keys=100, window_seconds=5, clock=clock)
    batcher.add(_delivery(1, "a"))
    clock.now += 4
    batcher.add(_delivery(1, "b"))
    assert not batcher.due() and batcher.seconds_left() == pytest.approx(1)
    clock.now += 1
    assert batcher.due()
    assert [d.message_id for d in batcher.take()] == ["a", "b"]
    small = MicroBatcher(max_keys=3, window_seconds=60, clock=clock)
    big = _delivery(7, "c")  # one message with more keys than a batch holds is not split
    small.add(big)
    assert small.due() and small.take() == [big]
