"""Prefect tasks that tell the shop a batch finished: webhook, SQS and Prefect events.

Thin wrappers over `tasks.notify`; a receiver that is down is logged and recorded next to the
run's report (`_packshot/runs/<run id>/notifications.json`), never a reason to fail the run.
"""

from __future__ import annotations

import json
import logging

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event

from schemas.catalog import CatalogRow
from schemas.notify import BatchNotice, DeliveryRecord
from schemas.run import RunSummary
from schemas.settings import PackshotSettings, load_settings
from tasks import notify
from tasks.storage import Storage

RUNS_PREFIX = "_packshot/runs"
log = logging.getLogger("packshot.announce")


@task(cache_policy=NO_CACHE)
def announce_batch(
    *,
    summary: RunSummary,
    rows: list[CatalogRow],
    destination: str,
    settings: PackshotSettings,
) -> list[DeliveryRecord]:
    """Send `packshot.batch.completed` on every channel (nothing when the run saw no image)."""
    logger = get_run_logger()
    if summary.seen == 0:
        logger.info("No image in this run; nothing to announce")
        return []
    notice = notify.completed_notice(summary, rows)
    records = notify.deliver(notice, settings.notify) + [_emit(notice)]
    for record in records:
        if not record.ok:
            logger.warning(
                "Notification via %s to %s failed after %d attempt(s): %s",
                record.channel,
                record.target,
                record.attempts,
                record.error,
            )
    _record(destination, summary.run_id, records, settings)
    return records


def announce_failure(flow, flow_run, state) -> None:
    """Flow on_failure hook: send `packshot.batch.failed` on every channel."""
    settings = load_settings()
    notice = notify.failed_notice(str(flow_run.id), state.message)
    records = notify.deliver(notice, settings.notify) + [_emit(notice)]
    destination = (flow_run.parameters or {}).get("destination")
    if destination:
        _record(destination, notice.run_id, records, settings)


def _emit(notice: BatchNotice) -> DeliveryRecord:
    """The Prefect event automations react to; its payload is the notice minus the items."""
    event = emit_event(
        event=notice.event,
        resource={
            "prefect.resource.id": f"packshot.run.{notice.run_id}",
            "prefect.resource.name": f"packshot run {notice.run_id}",
        },
        payload=notice.model_dump(mode="json", exclude={"items"}),
    )
    return DeliveryRecord(
        channel="prefect-event", target=notice.event, ok=event is not None, attempts=1
    )


def _record(
    destination: str, run_id: str, records: list[DeliveryRecord], settings: PackshotSettings
) -> None:
    """Keep the delivery records beside the run's report; a destination that refuses them
    (full, gone, silent) costs the record, not the notices already sent."""
    body = json.dumps([record.model_dump(mode="json") for record in records], indent=2)
    try:
        Storage(destination, settings.storage).write(
            f"{RUNS_PREFIX}/{run_id}/notifications.json",
            body.encode(),
            content_type="application/json",
        )
    except Exception as exc:
        log.warning("delivery records not written to %s: %s", destination, exc)
