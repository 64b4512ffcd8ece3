"""`packshot listen`: S3 events on SQS -> runs of the events deployment."""

from __future__ import annotations

import argparse
import logging
import sys

from deployments.cli.common import UsageError, parse_presets
from schemas.settings import PackshotSettings


def register(commands) -> None:
    listen = commands.add_parser(
        "listen", help="start runs for S3 events arriving on an SQS queue (long-poll)"
    )
    listen.add_argument("--queue-url", required=True, help="SQS queue receiving S3 events")
    listen.add_argument(
        "--dest", default=None, help="destination URL (PACKSHOT_EVENTS__DESTINATION)"
    )
    listen.add_argument("--deployment", default=None, help="flow/deployment the runs belong to")
    listen.add_argument(
        "--preset",
        action="append",
        default=None,
        help="preset, repeated or comma-separated (default: the deployment's)",
    )
    listen.add_argument("--model", default=None, help="model (default: the deployment's)")
    listen.add_argument("--catalog", default=None, help="catalog URL (default DEST/catalog)")
    listen.add_argument("--once", action="store_true", help="one receive call, then exit")
    listen.set_defaults(handler=_listen)


def _listen(args: argparse.Namespace, settings: PackshotSettings) -> int:
    from deployments.bridge import listen

    destination = args.dest or settings.events.destination
    if not destination:
        raise UsageError("--dest (or PACKSHOT_EVENTS__DESTINATION) is required")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    runs = listen(
        queue_url=args.queue_url,
        destination=destination,
        settings=settings,
        deployment=args.deployment,
        presets=parse_presets(args.preset) if args.preset else None,
        model=args.model,
        catalog=args.catalog,
        once=args.once,
    )
    print(f"{len(runs)} run(s) started", file=sys.stderr)
    return 0
