"""Quarantine: a copy of each original every preset rejected, beside a sidecar saying why.

Originals are copied, never moved or changed; a copy is cleared once a fixed re-upload of the
same key goes through. Prefect-free: the batch calls it once per original.
"""

from __future__ import annotations

import json

from schemas.catalog import Outcome
from tasks.storage import Storage

# Rejected originals are copied here, under the destination, with a reasons sidecar.
QUARANTINE_PREFIX = "_quarantine"


def quarantine_keys(key: str) -> tuple[str, str]:
    """Where a rejected original's copy and its reasons sidecar go under the destination."""
    return f"{QUARANTINE_PREFIX}/{key}", f"{QUARANTINE_PREFIX}/{key}.reasons.json"


def settle(
    key: str,
    data: bytes | None,
    rows: dict[str, dict[str, object]],
    destination: Storage,
    sha256: object = None,
) -> None:
    """Copy the original (`data`) when every preset's row (`rows`, preset -> row, updated in
    place) rejected it; clear an earlier copy once a preset processed it. A copy that fails
    is noted on the rows, never a reason to lose them."""
    copy_key, sidecar_key = quarantine_keys(key)
    statuses = {row.get("status") for row in rows.values()}
    try:
        if statuses == {Outcome.REJECTED.value} and data is not None:
            destination.write(copy_key, data)
            sidecar = json.dumps(_sidecar(key, rows, sha256), indent=2).encode()
            destination.write(sidecar_key, sidecar, content_type="application/json")
            for row in rows.values():
                row["quarantine_key"] = destination.uri(copy_key)
        elif Outcome.PROCESSED.value in statuses and destination.exists(copy_key):
            destination.delete(copy_key)
            destination.delete(sidecar_key)
    except Exception as exc:  # quarantine is a copy: failing it must not lose the row
        for row in rows.values():
            row["detail"] = f"{row.get('detail') or ''} (quarantine copy failed: {exc})"


def _sidecar(key: str, rows: dict[str, dict[str, object]], sha256: object) -> dict[str, object]:
    """Why the original was rejected: the first preset's reason, and every preset's."""
    first = next(iter(rows.values()))
    sidecar = {k: first.get(k) for k in ("reason", "detail", "warnings")}
    sidecar.update(sha256=sha256, source_key=key)
    sidecar["presets"] = {
        name: {k: row.get(k) for k in ("reason", "detail")} for name, row in rows.items()
    }
    return sidecar
