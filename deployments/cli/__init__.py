"""The `packshot` command line, one module per verb group.

packshot demo                       bundled photos -> ./packshot-demo
packshot process SOURCE DEST        any folder or fsspec URL
packshot check SOURCE               the checks alone, no model
packshot models list|pull|path
packshot catalog query "SQL" | check | compact
packshot cost
packshot listen --queue-url URL     S3 events on SQS -> runs of the deployment
packshot generator serve --port N   the reference background generator (ad creatives)
packshot ui [--port 4200]           the Prefect UI with packshot's deployments and a worker
packshot review list|approve|reject DEST   outputs waiting for a person
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys

from deployments.cli import catalog, generator, listen, models, review, run, ui
from deployments.cli.common import UsageError
from deployments.cli.lifecycle import prefect_api
from deployments.cli.run import warm_local_cluster
from schemas.settings import load_settings

__all__ = ["main", "prefect_api", "warm_local_cluster"]

VERBS = (run, models, catalog, listen, generator, ui, review)


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    # The embedded Prefect server would phone home for telemetry; a CLI run stays local.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    settings = load_settings()
    try:
        code = args.handler(args, settings)
    except UsageError as exc:
        print(f"packshot: {exc}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        code = 130
    _exit(code, fast=argv is None)


def _exit(code: int, *, fast: bool) -> None:
    """Leave with `code`. As a command (`fast`), once the exit handlers have run: by then the
    command has stopped all it started (server, cluster, threads), and all that is left is the
    interpreter freeing the objects of Prefect, Great Expectations and pandas one by one, 2.5 s
    after every run here. Called in-process (tests), a plain SystemExit."""
    if not fast:
        sys.exit(code)
    atexit._run_exitfuncs()  # logging's flush and every library's own clean-up, as at exit
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="packshot", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for verb in VERBS:
        verb.register(commands)
    return parser


if __name__ == "__main__":
    main()
