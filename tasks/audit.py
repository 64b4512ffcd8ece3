"""The audit trail: who read, wrote or deleted which object, and when (Prefect-free).

Every Storage call records one event in a per-process buffer; `flush` appends the buffer as
one Parquet part under `<catalog>/_audit/date=YYYY-MM-DD/` (append-only, never rewritten),
which `packshot catalog query` reads as the table `audit`. Events hold URLs, ETags, version
ids, sizes and the principal: never a credential, a query string or an object's content.
"""

from __future__ import annotations

import getpass
import io
import os
import socket
import threading
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.parquet as pq

AUDIT_PREFIX = "_audit"

AUDIT_SCHEMA = pa.schema(
    [
        pa.field("occurred_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("action", pa.string(), nullable=False),  # read | write | delete
        pa.field("url", pa.string(), nullable=False),
        pa.field("etag", pa.string()),
        pa.field("version", pa.string()),
        pa.field("bytes", pa.int64()),
        pa.field("run_id", pa.string()),
        pa.field("principal", pa.string()),
        pa.field("process", pa.string()),  # host:pid that made the call
    ]
)


@dataclass
class AuditEvent:
    """One storage call on one object."""

    occurred_at: datetime
    action: str
    url: str
    etag: str | None = None
    version: str | None = None
    bytes: int | None = None
    run_id: str | None = None
    principal: str | None = None
    process: str | None = None


_lock = threading.Lock()
_buffer: list[AuditEvent] = []
_principals: dict[str, str] = {}


def record(
    action: str,
    url: str,
    *,
    etag: str | None = None,
    version: str | None = None,
    size: int | None = None,
) -> None:
    """Remember one storage call until the next `flush` in this process."""
    event = AuditEvent(datetime.now(UTC), action, _without_secrets(url), etag, version, size)
    with _lock:
        _buffer.append(event)


def pending() -> list[AuditEvent]:
    """The events not yet flushed (a copy)."""
    with _lock:
        return list(_buffer)


def flush(catalog: str, run_id: str | None, write_options=None) -> str | None:
    """Append the buffered events to `<catalog>/_audit/` as one part; its URL (None if none).

    On failure the events stay buffered for the next flush and the error propagates.
    """
    from tasks.storage import Storage  # storage records into this module

    with _lock:
        events, _buffer[:] = list(_buffer), []
    if not events:
        return None
    try:
        store = Storage(catalog, write_options) if write_options else Storage(catalog)
        principal = principal_of(store)
        process = f"{socket.gethostname()}:{os.getpid()}"
        for event in events:
            event.run_id = event.run_id or run_id
            event.principal, event.process = principal, process
        return store.write(_part_key(run_id), _parquet(events), record=False)
    except BaseException:
        with _lock:
            _buffer[:0] = events
        raise


def _part_key(run_id: str | None) -> str:
    now = datetime.now(UTC)
    return f"{AUDIT_PREFIX}/date={now:%Y-%m-%d}/audit-{run_id or 'none'}-{uuid.uuid4().hex}.parquet"


def _parquet(events: list[AuditEvent]) -> bytes:
    table = pa.Table.from_pylist([asdict(e) for e in events], schema=AUDIT_SCHEMA)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


def principal_of(store) -> str:
    """Who packshot acts as there: the AWS caller identity's ARN on S3, user@host on a folder."""
    kind = "local" if store.is_local else "s3"
    if kind not in _principals:
        _principals[kind] = _local_principal() if kind == "local" else _aws_principal()
    return _principals[kind]


def _local_principal() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # no name for this uid (containers)
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def _aws_principal() -> str:
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=3, read_timeout=5, retries={"max_attempts": 1})
    try:
        return boto3.client("sts", config=config).get_caller_identity()["Arn"]
    except Exception as exc:  # the trail still says what was done, and why not by whom
        return f"unknown (sts: {type(exc).__name__})"


def _without_secrets(url: str) -> str:
    """The URL without user info or query string (presigned URLs carry credentials there)."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
