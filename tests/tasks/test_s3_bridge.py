"""The SQS bridge against moto's server: real S3 -> SQS (and S3 -> EventBridge -> SQS)
notifications, real long-polls and deletions; only the run starter is a recorder."""

from __future__ import annotations

import json
import time

import pytest

from tasks.s3_bridge import SqsBridge, handle_lambda_event, idempotency_key
from tasks.s3_events import ObjectEvent
from tests.support.aws_events import Aws

KEYS = ["shelf/red shoe+1.jpg", "shelf/ü 2 (blue).jpg", "100%/cotton.jpg"]


class Starter:
    """Records the runs it is asked for; fails the first `failures` calls."""

    def __init__(self, failures: int = 0) -> None:
        self.runs: list[dict] = []
        self.failures = failures

    def __call__(self, *, source: str, keys: list[str], idempotency_key: str) -> str:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("Prefect API unreachable")
        self.runs.append({"source": source, "keys": keys, "key": idempotency_key})
        return f"run-{len(self.runs)}"

    @property
    def keys(self) -> list[str]:
        return [key for run in self.runs for key in run["keys"]]


def _wired(aws: Aws, *, visibility: int = 30) -> tuple[str, str]:
    bucket, queue = aws.bucket("photos"), aws.queue("photos", visibility=visibility)
    aws.notify_queue(bucket, queue)
    return bucket, queue


def _poll_until(bridge: SqsBridge, done, *, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        bridge.poll_once()
    bridge.drain()


def test_uploads_become_micro_batched_runs_and_repeats_are_dropped(aws: Aws) -> None:
    bucket, queue = _wired(aws)
    for key in KEYS:
        aws.s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    # S3 and SQS deliver at least once: put every event on the queue a second time
    peeked = aws.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=0)
    bodies = [m["Body"] for m in peeked["Messages"]]
    assert sum("s3:TestEvent" in b for b in bodies) == 1 and len(bodies) == 4
    for body in bodies:
        if "TestEvent" not in body:
            aws.sqs.send_message(QueueUrl=queue, MessageBody=body)

    starter = Starter()
    bridge = SqsBridge(aws.sqs, queue, starter, batch_size=2, window_seconds=0.5, wait_seconds=1)
    _poll_until(bridge, lambda: aws.depth(queue) == 0)

    assert sorted(starter.keys) == sorted(KEYS)  # decoded, each exactly once
    assert all(run["source"] == f"s3://{bucket}" for run in starter.runs)
    assert all(len(run["keys"]) <= 2 for run in starter.runs)
    assert aws.depth(queue) == 0  # every message deleted once its run existed

    aws.sqs.send_message(QueueUrl=queue, MessageBody=bodies[-1])  # a late redelivery
    bridge.poll_once()
    assert bridge.drain() == [] and aws.depth(queue) == 0 and len(starter.keys) == 3


def test_a_message_is_kept_until_its_run_exists(aws: Aws) -> None:
    bucket, queue = _wired(aws, visibility=1)
    aws.s3.put_object(Bucket=bucket, Key="late shoe.jpg", Body=b"1")
    starter = Starter(failures=1)
    bridge = SqsBridge(aws.sqs, queue, starter, batch_size=1, window_seconds=0, wait_seconds=1)
    bridge.poll_once()  # the test event is deleted, the photo's run cannot be started
    assert starter.runs == [] and aws.depth(queue) == 1
    _poll_until(bridge, lambda: bool(starter.runs))  # redelivered after the visibility timeout
    assert starter.keys == ["late shoe.jpg"] and aws.depth(queue) == 0


def test_eventbridge_object_created_events_on_sqs(aws: Aws) -> None:
    bucket, queue = aws.bucket("eb-photos"), aws.queue("eb")
    aws.s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    aws.events.put_rule(
        Name=f"{bucket}-created",
        EventPattern=json.dumps({"source": ["aws.s3"], "detail-type": ["Object Created"]}),
    )
    aws.events.put_targets(
        Rule=f"{bucket}-created", Targets=[{"Id": "q", "Arn": aws.queue_arn(queue)}]
    )
    aws.s3.put_object(Bucket=bucket, Key="eb/a+b c.jpg", Body=b"1")
    starter = Starter()
    bridge = SqsBridge(aws.sqs, queue, starter, batch_size=5, window_seconds=0, wait_seconds=1)
    _poll_until(bridge, lambda: bool(starter.runs))
    assert starter.runs[0]["source"] == f"s3://{bucket}"
    assert starter.keys == ["eb/a+b c.jpg"]  # EventBridge keys are not form-encoded


def test_lambda_sqs_batches_report_only_the_bad_messages(aws: Aws) -> None:
    bucket, queue = _wired(aws)
    for key in KEYS[:2]:
        aws.s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    messages = aws.messages(queue)
    records = [
        {"eventSource": "aws:sqs", "messageId": m["MessageId"], "body": m["Body"]}
        for m in messages + messages  # Lambda may see a message twice
    ] + [{"eventSource": "aws:sqs", "messageId": "junk", "body": "{oops"}]
    starter = Starter()
    answer = handle_lambda_event({"Records": records}, starter)
    assert answer == {"runs": ["run-1"], "batchItemFailures": [{"itemIdentifier": "junk"}]}
    assert sorted(starter.keys) == sorted(KEYS[:2])

    failing = handle_lambda_event({"Records": records[:2]}, Starter(failures=1))
    assert {f["itemIdentifier"] for f in failing["batchItemFailures"]} == {
        r["messageId"] for r in records[:2]
    }


def test_direct_s3_lambda_events_and_stable_idempotency_keys(aws: Aws) -> None:
    bucket, queue = _wired(aws)
    aws.s3.put_object(Bucket=bucket, Key="direct one.jpg", Body=b"x")
    body = next(m["Body"] for m in aws.messages(queue) if "Records" in m["Body"])
    starter = Starter()
    assert handle_lambda_event(json.loads(body), starter) == {"runs": ["run-1"]}
    handle_lambda_event(json.loads(body), starter)
    assert starter.runs[0] == starter.runs[1]  # same versions, same idempotency key
    a, b = ObjectEvent("b", "k", etag="1"), ObjectEvent("b", "j", etag="2")
    assert idempotency_key([a, b]) == idempotency_key([b, a, a])
    assert idempotency_key([a]) != idempotency_key([ObjectEvent("b", "k", etag="3")])


def test_lambda_handler_needs_a_destination(monkeypatch: pytest.MonkeyPatch) -> None:
    from deployments.lambda_bridge import MissingConfiguration, handler

    monkeypatch.delenv("PACKSHOT_EVENTS__DESTINATION", raising=False)
    with pytest.raises(MissingConfiguration):
        handler({"Records": []}, None)


def test_listen_without_a_destination_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from deployments.cli import main

    monkeypatch.delenv("PACKSHOT_EVENTS__DESTINATION", raising=False)
    with pytest.raises(SystemExit) as exited:
        main(["listen", "--queue-url", "https://sqs.eu-west-1.amazonaws.com/1/q"])
    assert exited.value.code == 2
    assert "--dest" in capsys.readouterr().err
