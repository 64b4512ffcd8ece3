"""The `review-images` flow: show the outputs waiting for review, take a decision per image.

The run lists the queue, publishes it as a board (thumbnails on the run's page), pauses for
the reviewer's form, then approves (output to the preset's folder, shop notified) or rejects
(original quarantined as `rejected_by_reviewer`) each image; `wait` keeps it queued.
"""

from __future__ import annotations

from typing import Annotated

from prefect import flow, runtime
from prefect.flow_runs import pause_flow_run
from pydantic import BaseModel, Field

from schemas.form import OptionalPreset, OptionalText
from schemas.presets import PresetName
from schemas.settings import load_settings
from tasks.review_board import apply_decisions, decision_form, list_waiting, publish_review_board


class ReviewResult(BaseModel):
    """What the run decided."""

    shown: int
    approved: list[str] = Field(default_factory=list)
    rejected: list[str] = Field(default_factory=list)


@flow(name="review-images", log_prints=True)
def review_images(
    destination: str,
    catalog: OptionalText = "",
    preset: OptionalPreset = "",
    limit: Annotated[int, Field(ge=1, le=100)] = 12,
    timeout_seconds: Annotated[int, Field(ge=10)] = 3600,
    poll_seconds: Annotated[int, Field(ge=1, le=60)] = 10,
) -> ReviewResult:
    """Show the outputs waiting under DEST/_review/ and apply the reviewer's decisions.

    Args:
        destination: Folder or URL the runs wrote to.
        catalog: Catalog URL — empty uses <destination>/catalog.
        preset: Only this preset's outputs — empty shows every preset's.
        limit: Outputs per review round.
        timeout_seconds: How long the form waits for the reviewer.
        poll_seconds: How often the paused run looks for the answer.
    """
    settings = load_settings()
    catalog = catalog or destination.rstrip("/") + "/catalog"
    rows = list_waiting(catalog, PresetName(preset).value if preset else None, limit)
    if not rows:
        return ReviewResult(shown=0)
    board = publish_review_board(rows)
    form = decision_form(rows)
    answer = pause_flow_run(
        wait_for_input=form.with_initial_data(description=board),
        timeout=timeout_seconds,
        poll_interval=poll_seconds,
    )
    decided = apply_decisions(
        rows,
        answer.model_dump(),
        catalog=catalog,
        run_id=str(runtime.flow_run.id or "review"),
        notify=settings.notify,
    )
    return ReviewResult(
        shown=len(rows),
        approved=[f"{r.source_key}:{r.preset}" for r in decided if r.status == "processed"],
        rejected=[f"{r.source_key}:{r.preset}" for r in decided if r.status == "rejected"],
    )
