"""A real S3-compatible endpoint for tests: moto's server over HTTP on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest


def forget_s3_clients() -> None:
    """Drop cached S3 filesystems: they keep the endpoint they were made with, and a test
    points AWS_ENDPOINT_URL elsewhere."""
    import s3fs

    from tasks.storage_s3 import GuardedS3FileSystem

    s3fs.S3FileSystem.clear_instance_cache()
    GuardedS3FileSystem.clear_instance_cache()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's threaded server, one per test session; its URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch):
    """A boto3 S3 client on the moto server, with every AWS client in the process pointed there."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    forget_s3_clients()
    yield boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    forget_s3_clients()
