"""Signed webhooks against a real HTTP receiver on 127.0.0.1; SQS on moto's server."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pydantic import SecretStr

from schemas.notify import (
    BATCH_COMPLETED,
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    BatchNotice,
)
from schemas.settings import NotifySettings
from tasks import notify
from tests.support.aws_events import Aws, Receiver
from tests.support.s3 import free_port

SECRET = "whsec-do-not-leak-4242"


def _notice() -> BatchNotice:
    return BatchNotice(
        event=BATCH_COMPLETED, run_id="r1", seen=2, processed=2, sent_at=datetime.now(UTC)
    )


def _no_sleep(_: float) -> None:
    pass


def test_signature_covers_timestamp_and_body_and_rejects_replays() -> None:
    body = b'{"a":1}'
    signature = notify.sign(SECRET, "1700000000", body)
    assert signature.startswith("v1=") and len(signature) == 3 + 64
    assert notify.verify(SECRET, "1700000000", body, signature, now=1700000010)
    assert not notify.verify(SECRET, "1700000001", body, signature, now=1700000010)
    assert not notify.verify(SECRET, "1700000000", body + b" ", signature, now=1700000010)
    assert not notify.verify("other", "1700000000", body, signature, now=1700000010)
    assert not notify.verify(SECRET, "1700000000", body, signature, now=1700000000 + 301)


def test_webhook_is_signed_and_retried_on_5xx_and_timeouts(receiver: Receiver) -> None:
    receiver.statuses = [503, 200, 200]
    receiver.delays = [0.0, 1.5]  # the second try outlives the client's timeout
    slept: list[float] = []
    record = notify.post_webhook(
        receiver.url,
        _notice(),
        secret=SECRET,
        retries=4,
        backoff_seconds=0.1,
        timeout_seconds=0.5,
        sleep=slept.append,
    )
    assert record.ok and record.attempts == 3 and record.status_code == 200
    assert slept == [0.1, 0.2]  # exponential backoff
    assert len(receiver.calls) == 3
    last = receiver.calls[-1]
    assert notify.verify(
        SECRET, last.headers[TIMESTAMP_HEADER], last.body, last.headers[SIGNATURE_HEADER]
    )
    assert len({call.headers[DELIVERY_HEADER] for call in receiver.calls}) == 1
    assert json.loads(last.body)["run_id"] == "r1"
    assert SECRET not in str(last.headers) and SECRET.encode() not in last.body


def test_client_errors_are_not_retried_and_failures_are_records(receiver: Receiver) -> None:
    receiver.statuses = [400]
    record = notify.post_webhook(
        receiver.url + "?token=abc", _notice(), secret=SECRET, retries=3, sleep=_no_sleep
    )
    assert not record.ok and record.attempts == 1 and record.error == "HTTP 400"
    assert record.target == receiver.url  # query string (tokens) left out

    down = f"http://user:pw@127.0.0.1:{free_port()}/hook"
    record = notify.post_webhook(down, _notice(), secret=SECRET, retries=2, sleep=_no_sleep)
    assert not record.ok and record.attempts == 3 and record.error == "ConnectError"
    assert "pw" not in record.model_dump_json() and SECRET not in record.model_dump_json()


def test_deliver_posts_the_webhook_and_sends_the_sqs_message(receiver: Receiver, aws: Aws) -> None:
    queue = aws.queue("notices")
    settings = NotifySettings(
        webhook_url=receiver.url, webhook_secret=SecretStr(SECRET), sqs_queue_url=queue
    )
    assert SECRET not in repr(settings) and SECRET not in settings.model_dump_json()
    records = notify.deliver(_notice(), settings)
    assert [(r.channel, r.ok) for r in records] == [("webhook", True), ("sqs", True)]
    (message,) = aws.messages(queue)
    assert json.loads(message["Body"])["event"] == BATCH_COMPLETED
    assert len(receiver.calls) == 1
