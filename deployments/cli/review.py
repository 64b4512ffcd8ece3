"""`packshot review list|approve|reject`: the review queue from the terminal."""

from __future__ import annotations

import argparse
import json

from deployments.cli.common import UsageError
from schemas.settings import PackshotSettings


def register(commands) -> None:
    review = commands.add_parser("review", help="list, approve and reject outputs in review")
    verbs = review.add_subparsers(dest="verb", required=True)
    listing = verbs.add_parser("list", help="outputs waiting under DEST/_review/")
    _common(listing)
    listing.add_argument("--preset", default=None, help="only this preset's")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(handler=_list)
    for verb, handler in (("approve", _approve), ("reject", _reject)):
        sub = verbs.add_parser(verb, help=f"{verb} one waiting output")
        _common(sub)
        sub.add_argument("key", help="the original's key (as `review list` shows it)")
        sub.add_argument("--preset", required=True, help="the output's preset")
        sub.add_argument("--reviewer", default=None, help="who decides (default user@host)")
        if verb == "reject":
            sub.add_argument("--reason", required=True, help="why, in a few words")
        sub.set_defaults(handler=handler)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dest", help="the destination the run wrote to")
    parser.add_argument("--catalog", default=None, help="catalog URL (default DEST/catalog)")


def _catalog(args: argparse.Namespace) -> str:
    return args.catalog or f"{args.dest.rstrip('/')}/catalog"


def _list(args: argparse.Namespace, settings: PackshotSettings) -> int:
    from tasks import review

    rows = review.waiting(_catalog(args), preset=args.preset)
    for row in rows:
        facts = {
            "key": row.source_key,
            "preset": row.preset,
            "confidence": row.confidence,
            "why": [
                f["code"] for f in json.loads(row.compliance or "[]") if f["severity"] == "review"
            ],
            "output": row.output_keys[0] if row.output_keys else None,
        }
        if args.json:
            print(json.dumps(facts))
        else:
            conf = "-" if row.confidence is None else f"{row.confidence:.2f}"
            print(f"{row.source_key:<40} {row.preset:<18} {conf:>5}  {', '.join(facts['why'])}")
    if not args.json:
        print(f"{len(rows)} waiting for review")
    return 0


def _decide(args: argparse.Namespace, settings: PackshotSettings, decision: str) -> int:
    from tasks import review

    catalog = _catalog(args)
    try:
        row = review.find(catalog, args.key, args.preset)
    except review.ReviewError as exc:
        raise UsageError(str(exc)) from None
    decided = review.decide(
        row,
        decision,  # type: ignore[arg-type]
        catalog=catalog,
        reviewer=args.reviewer or review.default_reviewer(),
        reason=getattr(args, "reason", None),
    )
    review.notify_decisions([decided], decided.run_id, settings.notify)
    where = decided.output_keys[0] if decided.output_keys else decided.quarantine_key
    print(f"{args.key} ({args.preset}): {decided.status} -> {where}")
    return 0


def _approve(args: argparse.Namespace, settings: PackshotSettings) -> int:
    return _decide(args, settings, "approved")


def _reject(args: argparse.Namespace, settings: PackshotSettings) -> int:
    return _decide(args, settings, "rejected")
