"""S3 calls that end: one deadline per call, and a hold on an endpoint that stopped answering.

botocore's read timeout starts only once a request's body has gone out, and aiohttp waits
without a limit for the `100 Continue` that every PutObject asks for: a frozen endpoint held a
write forever (issue 18). Every S3 call s3fs makes passes through `_call_s3`, so the deadline
goes there. Once a call runs past it, this process stops calling that endpoint for HOLD_S, so
a batch over a dead endpoint pays one timeout, not one per image. Prefect-free.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time

from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError
from fsspec.asyn import sync_wrapper
from s3fs import S3FileSystem

from schemas.settings import StorageSettings

# How long a silent endpoint is left alone before one call may try it again: long enough for
# the rest of a batch to fail at once, short enough that a recovered endpoint is used soon.
HOLD_S = 30.0
# The slowest upload a body's deadline allows for, on top of the answer's own timeouts.
UPLOAD_FLOOR_BYTES_PER_S = 256 * 1024
# botocore's own defaults, for a filesystem made without packshot's settings.
BOTOCORE_TIMEOUT_S = 60.0

_TIMEOUTS = (TimeoutError, ConnectTimeoutError, ReadTimeoutError)
_silent_until: dict[str, float] = {}
_lock = threading.Lock()


class EndpointSilent(ConnectionError):
    """An S3 endpoint did not answer within a call's deadline, now or a moment ago (not a
    TimeoutError: fsspec would turn that into an FSTimeoutError without its message)."""


def s3_filesystem(options: StorageSettings) -> GuardedS3FileSystem:
    """The S3 filesystem for packshot's settings: their timeouts and attempts per call, so a
    dead or silent endpoint fails in seconds, not minutes."""
    config = {
        "connect_timeout": options.connect_timeout_s,
        "read_timeout": options.read_timeout_s,
        "retries": {"total_max_attempts": options.max_attempts, "mode": "standard"},
    }
    return GuardedS3FileSystem(config_kwargs=config)


class GuardedS3FileSystem(S3FileSystem):
    """s3fs's filesystem with every call under a deadline and the silent-endpoint hold."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # botocore retries (total_max_attempts): s3fs's own loop would multiply them, and its
        # info() falls back to a listing
        self.retries = 1

    async def _call_s3(self, method, *akwarglist, **kwargs):
        endpoint = self.endpoint()
        refuse_if_silent(endpoint, method)
        limit = self.deadline(len(kwargs["Body"]) if isinstance(kwargs.get("Body"), bytes) else 0)
        call = super()._call_s3(method, *akwarglist, **kwargs)
        try:
            return await asyncio.wait_for(call, limit)
        except _TIMEOUTS:
            hold(endpoint)
            raise EndpointSilent(
                f"{endpoint} did not answer {method} within {limit:.0f} s"
            ) from None

    call_s3 = sync_wrapper(_call_s3)  # s3fs binds its own at class level: bind the guarded one

    def endpoint(self) -> str:
        """The endpoint's URL, or `AWS S3` for the default one."""
        url = self.client_kwargs.get("endpoint_url") or getattr(self, "endpoint_url", None)
        return url or _env_endpoint() or "AWS S3"

    def deadline(self, body_bytes: int) -> float:
        """Seconds one call may take in all: each attempt's connect and read timeouts, plus
        the body's upload at the slowest rate allowed."""
        config = self.config_kwargs or {}
        connect = float(config.get("connect_timeout", BOTOCORE_TIMEOUT_S))
        read = float(config.get("read_timeout", BOTOCORE_TIMEOUT_S))
        attempts = int((config.get("retries") or {}).get("total_max_attempts", 3))
        return attempts * (connect + read) + body_bytes / UPLOAD_FLOOR_BYTES_PER_S


def _env_endpoint() -> str | None:
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")


def refuse_if_silent(endpoint: str, method: str) -> None:
    """EndpointSilent at once while `endpoint` is held after a timeout."""
    with _lock:
        until = _silent_until.get(endpoint, 0.0)
    left = until - time.monotonic()
    if left > 0:
        raise EndpointSilent(
            f"{endpoint} stopped answering {HOLD_S - left:.0f} s ago; {method} not sent "
            f"(retried in {left:.0f} s)"
        )


def hold(endpoint: str) -> None:
    with _lock:
        _silent_until[endpoint] = time.monotonic() + HOLD_S


def release_all() -> None:
    """Forget every hold (tests; a process that knows the endpoint is back)."""
    with _lock:
        _silent_until.clear()
