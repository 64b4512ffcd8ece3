"""AWS Lambda handler for S3 -> Lambda (or S3 -> SQS/EventBridge -> Lambda) wiring.

Handler: `deployments.lambda_bridge.handler`. Configuration comes from the environment, read
per invocation: PACKSHOT_EVENTS__DESTINATION (required), PACKSHOT_EVENTS__DEPLOYMENT, and
PREFECT_API_URL / PREFECT_API_KEY for the Prefect server the runs are created on. Each
invocation starts one run per source bucket over the event's keys, with an idempotency key
made from the object versions, so Lambda's own retries never start a second run.
"""

from __future__ import annotations

from typing import Any

from deployments.bridge import deployment_starter
from schemas.settings import load_settings
from tasks.s3_bridge import handle_lambda_event


class MissingConfiguration(RuntimeError):
    """The handler's environment lacks a setting it needs."""


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Start runs for the object-created events in `event`."""
    settings = load_settings()
    if not settings.events.destination:
        raise MissingConfiguration("PACKSHOT_EVENTS__DESTINATION is not set")
    starter = deployment_starter(
        deployment=settings.events.deployment, destination=settings.events.destination
    )
    return handle_lambda_event(event, starter)
