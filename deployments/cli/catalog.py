"""`packshot catalog query|check|compact` and `packshot cost`: reading and tending the catalog."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from deployments.cli.common import UsageError
from schemas.settings import PackshotSettings


def register(commands) -> None:
    catalog = commands.add_parser("catalog", help="query the Parquet catalog")
    cverbs = catalog.add_subparsers(dest="verb", required=True)
    query = cverbs.add_parser(
        "query", help="run SQL over the tables `images`, `latest` and `audit`"
    )
    query.add_argument("sql")
    query.add_argument("--catalog", default="packshot-demo/catalog", help="catalog URL")
    query.add_argument("--format", choices=["table", "csv", "json"], default="table")
    query.set_defaults(handler=_catalog_query)
    check = cverbs.add_parser("check", help="read every part; list damaged or stray files")
    check.add_argument("--catalog", default="packshot-demo/catalog", help="catalog URL")
    check.set_defaults(handler=_catalog_check)
    compact = cverbs.add_parser("compact", help="merge each day's parts into one, every row kept")
    compact.add_argument("--catalog", default="packshot-demo/catalog", help="catalog URL")
    compact.set_defaults(handler=_catalog_compact)

    cost = commands.add_parser(
        "cost", help="dollars per 1,000 images on Lambda, Fargate and a local machine"
    )
    cost.add_argument("--catalog", default="packshot-demo/catalog", help="catalog URL")
    cost.add_argument("--model", default=None, help="model whose timings to use (default model)")
    cost.add_argument("--run", default=None, help="only this run id's rows")
    cost.add_argument("--pricing", default=None, help="JSON overriding schemas/pricing.json")
    cost.add_argument(
        "--measured-vcpus",
        type=float,
        default=None,
        help="vCPUs each worker process had when the catalog's timings were taken (default 2)",
    )
    cost.add_argument("--json", action="store_true", help="print the estimate as JSON")
    cost.set_defaults(handler=_cost)


def _catalog_query(args: argparse.Namespace, settings: PackshotSettings) -> int:
    import duckdb

    from tasks import catalog

    opened = catalog.open_catalog(args.catalog)
    for path, why in opened.skipped.items():
        print(f"packshot: skipped {path}: {why}", file=sys.stderr)
    try:
        table = opened.con.sql(args.sql).to_arrow_table()
    except duckdb.Error as exc:
        hint = " (run `packshot catalog check`)" if "parquet" in str(exc).lower() else ""
        raise UsageError(f"query failed: {str(exc).splitlines()[0]}{hint}") from None
    print(catalog.format_table(table, args.format))
    return 0


def _catalog_check(args: argparse.Namespace, settings: PackshotSettings) -> int:
    from tasks.catalog_care import check_catalog

    report = check_catalog(args.catalog)
    for path, why in sorted(report.problems.items()):
        print(f"{path}: {why}")
    print(
        f"{report.parts} readable parts, {report.rows} rows, {len(report.problems)} problems",
        file=sys.stderr,
    )
    return 1 if report.problems else 0


def _catalog_compact(args: argparse.Namespace, settings: PackshotSettings) -> int:
    from tasks import audit
    from tasks.catalog_care import compact_catalog

    report = compact_catalog(args.catalog)
    audit.flush(args.catalog, None)  # the merged part written, the parts it replaced deleted
    for path, why in sorted(report.skipped.items()):
        print(f"packshot: left alone {path}: {why}", file=sys.stderr)
    print(
        f"{report.merged} parts merged into {len(report.written)}, {report.rows} rows kept",
        file=sys.stderr,
    )
    return 0


def _cost(args: argparse.Namespace, settings: PackshotSettings) -> int:
    from schemas.cost import load_pricing
    from tasks import cost

    model = args.model or settings.model.default
    try:
        pricing = load_pricing(Path(args.pricing) if args.pricing else None)
    except (OSError, ValueError) as exc:
        raise UsageError(f"pricing {args.pricing}: {str(exc).splitlines()[0]}") from None
    rows = cost.catalog_timings(args.catalog, model=model, run_id=args.run)
    vcpus = args.measured_vcpus or cost.DEFAULT_MEASURED_VCPUS
    estimate = cost.estimate(rows, pricing, model=model, measured_vcpus=vcpus)
    if estimate is None:
        raise UsageError(f"no rows for model {model!r} in {args.catalog}; run it first")
    print(estimate.model_dump_json() if args.json else cost.format_estimate(estimate))
    return 0
