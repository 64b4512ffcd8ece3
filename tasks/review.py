"""The review queue: outputs waiting under DEST/_review/, and a person's decisions on them.

No Prefect here: the `review-images` flow and `packshot review` both call these functions.
A decision appends one catalog row (the original's row with its new status, the decision,
who made it and when) as its own part; earlier parts are never rewritten, so the catalog's
`latest` view holds each image's present state and seen = processed + rejected + failed +
needs_review holds there after every decision.

approve: the output moves from `_review/<preset>/...` to `<preset>/...`, the row becomes
`processed`, and the shop is told (tasks/notify). reject: the output is deleted, the original
is quarantined as the batch quarantines (`_quarantine/<key>` and its reasons sidecar), and the
row becomes `rejected` with the reason `rejected_by_reviewer` and the reviewer's words.
"""

from __future__ import annotations

import base64
import getpass
import io
import json
import socket
import uuid
from datetime import UTC, datetime
from typing import Literal

from PIL import Image

from schemas.catalog import CatalogRow, Outcome, Reason
from schemas.notify import BatchNotice, NoticeItem
from schemas.settings import NotifySettings
from tasks.catalog import LATEST, connect, write_catalog_part
from tasks.quarantine import quarantine_keys
from tasks.storage import Storage
from tasks.trust import REVIEW_PREFIX, published_key

Decision = Literal["approved", "rejected"]
REVIEW_DECIDED = "packshot.review.decided"
THUMBNAIL_SIDE = 160


class ReviewError(RuntimeError):
    """The image is not waiting for review (unknown, or already decided)."""


def waiting(catalog: str, *, preset: str | None = None) -> list[CatalogRow]:
    """Outputs whose present state is needs_review, oldest first."""
    sql = f"SELECT * EXCLUDE (date) FROM {LATEST} WHERE status = ?"
    params: list[object] = [Outcome.NEEDS_REVIEW.value]
    if preset:
        sql += " AND preset = ?"
        params.append(preset)
    result = connect(catalog).execute(sql + " ORDER BY processed_at, source_key", params)
    names = [column[0] for column in result.description]
    return [CatalogRow.model_validate(dict(zip(names, r, strict=True))) for r in result.fetchall()]


def find(catalog: str, source_key: str, preset: str) -> CatalogRow:
    """The waiting row of one (original, preset)."""
    for row in waiting(catalog, preset=preset):
        if row.source_key == source_key:
            return row
    raise ReviewError(f"{source_key} ({preset}) is not waiting for review")


def status_counts(catalog: str) -> dict[str, int]:
    """Rows of the latest view by status (the conservation law's terms)."""
    rows = connect(catalog).execute(f"SELECT status, count(*) FROM {LATEST} GROUP BY status")
    return {status: count for status, count in rows.fetchall()}


def _split(uri: str, marker: str) -> tuple[Storage, str]:
    """The destination root and the key of a URL under `marker`/ in it."""
    root, _, rest = uri.partition(f"/{marker}/")
    return Storage(root), f"{marker}/{rest}"


def thumbnail_data_uri(row: CatalogRow, side: int = THUMBNAIL_SIDE) -> str:
    """The waiting output as a small JPEG data: URI, to show in a page without a link."""
    store, key = _split(row.output_keys[0], REVIEW_PREFIX)
    with Image.open(io.BytesIO(store.read(key))) as image:
        image.thumbnail((side, side))
        flat = Image.new("RGB", image.size, (255, 255, 255))
        rgba = image.convert("RGBA")
        flat.paste(rgba, mask=rgba.getchannel("A"))
    buffer = io.BytesIO()
    flat.save(buffer, "JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def default_reviewer() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}"


def decide(
    row: CatalogRow,
    decision: Decision,
    *,
    catalog: str,
    reviewer: str,
    reason: str | None = None,
    run_id: str | None = None,
    part: int = 0,
) -> CatalogRow:
    """Carry out `decision` on a waiting output and append its catalog row."""
    if row.status != Outcome.NEEDS_REVIEW.value or not row.output_keys:
        raise ReviewError(f"{row.source_key} ({row.preset}) is not waiting for review")
    store, key = _split(row.output_keys[0], REVIEW_PREFIX)
    now = datetime.now(UTC)
    common = {"review_decision": decision, "reviewer": reviewer, "decided_at": now}
    if decision == "approved":
        data = store.read(key)
        uri = store.write(published_key(key), data, content_type=_content_type(key))
        update = {**common, "status": Outcome.PROCESSED.value, "output_keys": [uri]}
    else:
        update = {**common, **_quarantine(row, store, reason)}
    store.delete(key)
    run = run_id or f"review-{uuid.uuid4().hex[:12]}"
    # One part per decision (part-<run>-<part>): each is on storage as soon as it is made.
    decided = row.model_copy(update={**update, "run_id": run, "batch": part, "processed_at": now})
    write_catalog_part(catalog, [decided], run_id=run, batch=part)
    return decided


def _content_type(key: str) -> str:
    ext = key.rsplit(".", 1)[-1].lower()
    return {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png"}.get(ext, "image/webp")


def _quarantine(row: CatalogRow, destination: Storage, reason: str | None) -> dict[str, object]:
    """Copy the original beside its reasons, as the batch does for a rejection."""
    source_root = row.source_uri[: len(row.source_uri) - len(row.source_key)].rstrip("/")
    original = Storage(source_root).read(row.source_key)
    copy_key, sidecar_key = quarantine_keys(row.source_key)  # where the batch puts its own
    detail = (reason or "rejected by a reviewer").strip()
    sidecar = {
        "reason": Reason.REJECTED_BY_REVIEWER.value,
        "detail": detail,
        "preset": row.preset,
        "sha256": row.sha256,
        "source_key": row.source_key,
    }
    destination.write(copy_key, original)
    destination.write(
        sidecar_key,
        json.dumps(sidecar, indent=2).encode(),
        content_type="application/json",
    )
    return {
        "status": Outcome.REJECTED.value,
        "reason": Reason.REJECTED_BY_REVIEWER.value,
        "detail": detail,
        "output_keys": [],
        "quarantine_key": destination.uri(copy_key),
    }


def decision_notice(rows: list[CatalogRow], run_id: str) -> BatchNotice:
    """What the shop is told about decided images (approved ones are now ready)."""
    processed = sum(r.status == Outcome.PROCESSED.value for r in rows)
    return BatchNotice(
        event=REVIEW_DECIDED,
        run_id=run_id,
        seen=len(rows),
        processed=processed,
        rejected=len(rows) - processed,
        items=[
            NoticeItem(
                source_uri=r.source_uri,
                preset=r.preset,
                status=r.status,
                reason=r.reason,
                outputs=r.output_keys,
            )
            for r in rows
        ],
        sent_at=datetime.now(UTC),
    )


def notify_decisions(rows: list[CatalogRow], run_id: str, settings: NotifySettings) -> list:
    """Tell the shop on every configured channel; the delivery records."""
    from tasks import notify

    if not rows:
        return []
    return notify.deliver(decision_notice(rows, run_id), settings)
