"""Fixtures for the event-driven tests: moto's server (S3, SQS, EventBridge) over real HTTP on
127.0.0.1, buckets wired to a queue by real S3 notifications, and a webhook receiver."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@pytest.fixture(scope="session")
def moto_url(moto_endpoint: str) -> str:
    """The session's one moto server (tests/conftest.py), under the name these tests use."""
    return moto_endpoint


@dataclass
class Aws:
    """Clients on the moto server, for one test."""

    url: str
    s3: object
    sqs: object
    events: object
    made: list[str] = field(default_factory=list)

    def bucket(self, prefix: str) -> str:
        """A new bucket named `prefix-<random>` (the moto server lives for the session)."""
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.s3.create_bucket(Bucket=name)
        return name

    def queue(self, prefix: str, *, visibility: int = 30) -> str:
        return self.sqs.create_queue(
            QueueName=f"{prefix}-{uuid.uuid4().hex[:8]}",
            Attributes={"VisibilityTimeout": str(visibility)},
        )["QueueUrl"]

    def queue_arn(self, url: str) -> str:
        attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return attrs["Attributes"]["QueueArn"]

    def notify_queue(self, bucket: str, queue_url: str) -> None:
        """Real S3 -> SQS notifications for every object created in `bucket`."""
        self.s3.put_bucket_notification_configuration(
            Bucket=bucket,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {"QueueArn": self.queue_arn(queue_url), "Events": ["s3:ObjectCreated:*"]}
                ]
            },
        )

    def messages(self, queue_url: str, *, wait: int = 0) -> list[dict]:
        """Every message now visible on the queue (received, so invisible for a while)."""
        found: list[dict] = []
        while True:
            got = self.sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait
            ).get("Messages", [])
            if not got:
                return found
            found += got
            wait = 0

    def depth(self, queue_url: str) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(
            attrs["ApproximateNumberOfMessagesNotVisible"]
        )


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """boto3 clients on moto, with every AWS client in the process (s3fs too) pointed there."""
    import boto3

    from tests.support.s3 import forget_s3_clients

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing-key-id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret-key")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    forget_s3_clients()
    yield Aws(
        moto_url,
        boto3.client("s3", region_name="us-east-1"),  # endpoint from AWS_ENDPOINT_URL
        boto3.client("sqs", region_name="us-east-1"),
        boto3.client("events", region_name="us-east-1"),
    )
    forget_s3_clients()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: answers with the queued status codes, then 200."""

    url: str
    calls: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)

    def json(self, index: int = 0) -> dict:
        return json.loads(self.calls[index].body)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.calls.append(Received(self.path, dict(self.headers.items()), body))
            if state.delays:
                time.sleep(state.delays.pop(0))
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/packshot"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
