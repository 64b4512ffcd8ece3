"""`packshot generator serve`: the reference background generator (CPU, procedural)."""

from __future__ import annotations

import argparse

from schemas.settings import PackshotSettings


def register(commands) -> None:
    generator = commands.add_parser(
        "generator", help="the reference background generator for generated ad backgrounds"
    )
    verbs = generator.add_subparsers(dest="verb", required=True)
    serve = verbs.add_parser("serve", help="serve the generator protocol over HTTP")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8765, help="port to listen on")
    serve.add_argument(
        "--delay", type=float, default=0.0, help="seconds to wait per request (to try timeouts)"
    )
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace, settings: PackshotSettings) -> int:
    from tasks.creatives.reference_generator import Behaviour, ReferenceGenerator

    service = ReferenceGenerator(args.host, args.port, Behaviour(delay_seconds=args.delay))
    print(f"generator on {service.url} (PACKSHOT_GENERATOR__URL={service.url})", flush=True)
    service.serve_forever()
    return 0
