"""Prefect tasks of the `review-images` flow: list the queue, show it, ask, carry it out.

Thin wrappers over tasks/review.py. The board is markdown with every waiting output embedded
as a small JPEG (a data: URI), so the images themselves are on the flow run's page, in the
artifact and above the decision form, with no link to follow and no bucket to reach.
"""

from __future__ import annotations

import json
from typing import Literal

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.input import RunInput
from pydantic import Field, create_model

from schemas.catalog import CatalogRow
from schemas.settings import NotifySettings
from tasks import review

BOARD_KEY = "review-board"
Choice = Literal["wait", "approve", "reject"]


@task(cache_policy=NO_CACHE)
def list_waiting(catalog: str, preset: str | None, limit: int) -> list[CatalogRow]:
    """The oldest `limit` outputs waiting for review."""
    rows = review.waiting(catalog, preset=preset)
    get_run_logger().info("%d output(s) waiting for review; showing %d", len(rows), limit)
    return rows[:limit]


def _why(row: CatalogRow) -> str:
    findings = json.loads(row.compliance or "[]")
    codes = [f"{f['code']} {f['value']}" for f in findings if f["severity"] == "review"]
    return ", ".join(codes) or "-"


def board_markdown(rows: list[CatalogRow]) -> str:
    """The waiting outputs as a markdown table, each with its thumbnail inline."""
    lines = [
        f"### {len(rows)} output(s) waiting for review",
        "",
        "| # | output | original | preset | confidence | why |",
        "|---|---|---|---|---|---|",
    ]
    for number, row in enumerate(rows, start=1):
        conf = "-" if row.confidence is None else f"{row.confidence:.2f}"
        image = f"![{row.source_key}]({review.thumbnail_data_uri(row)})"
        lines.append(
            f"| {number} | {image} | `{row.source_key}` | {row.preset} | {conf} | {_why(row)} |"
        )
    lines += ["", "Choose approve or reject per image below (reject needs a reason)."]
    return "\n".join(lines)


@task(cache_policy=NO_CACHE)
def publish_review_board(rows: list[CatalogRow]) -> str:
    """The board as a markdown artifact on the run; returns the markdown."""
    markdown = board_markdown(rows)
    create_markdown_artifact(key=BOARD_KEY, markdown=markdown, description="Review queue")
    return markdown


def decision_form(rows: list[CatalogRow]) -> type[RunInput]:
    """A run-input model with a choice and a reason per waiting output, in board order."""
    fields: dict[str, object] = {
        "reviewer": (str, Field("prefect-ui", title="Reviewer", description="Who decides.")),
    }
    for number, row in enumerate(rows, start=1):
        label = f"{number}. {row.source_key} ({row.preset})"
        fields[f"decision_{number}"] = (Choice, Field("wait", title=label))
        fields[f"reason_{number}"] = (str, Field("", title=f"{number}. reason if rejected"))
    return create_model("ReviewDecisions", __base__=RunInput, **fields)  # type: ignore[call-overload]


@task(cache_policy=NO_CACHE)
def apply_decisions(
    rows: list[CatalogRow],
    answer: dict[str, object],
    *,
    catalog: str,
    run_id: str,
    notify: NotifySettings,
) -> list[CatalogRow]:
    """Carry out every approve / reject of the form; `wait` leaves an image in the queue."""
    decided = []
    for number, row in enumerate(rows, start=1):
        choice = answer.get(f"decision_{number}", "wait")
        if choice == "wait":
            continue
        reason = str(answer.get(f"reason_{number}") or "") or None
        decided.append(
            review.decide(
                row,
                "approved" if choice == "approve" else "rejected",
                catalog=catalog,
                reviewer=str(answer.get("reviewer") or "prefect-ui"),
                reason=reason,
                run_id=run_id,
                part=number,
            )
        )
    review.notify_decisions(decided, run_id, notify)
    return decided
