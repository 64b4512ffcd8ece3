"""`packshot models list|pull|path`: the model registry and the local cache."""

from __future__ import annotations

import argparse

from deployments.cli.common import UsageError, home, pull
from schemas.models import ALL_MODELS
from schemas.settings import PackshotSettings


def register(commands) -> None:
    models = commands.add_parser("models", help="list, pull and locate models")
    verbs = models.add_subparsers(dest="verb", required=True)
    verbs.add_parser("list", help="the model registry").set_defaults(handler=_models_list)
    for verb, handler in (("pull", _models_pull), ("path", _models_path)):
        sub = verbs.add_parser(verb, help=f"{verb} a model")
        sub.add_argument("name", choices=sorted(ALL_MODELS), metavar="NAME")
        sub.set_defaults(handler=handler)


def _models_list(args: argparse.Namespace, settings: PackshotSettings) -> int:
    from tasks import model_store

    model_home = home(settings)
    print(f"{'name':<22} {'pulled':<7} {'size':>11} {'input':>6}  {'source':<10} licence")
    for spec in ALL_MODELS.values():
        size = f"{spec.size:,}" if spec.size else "?"
        pulled = "yes" if model_store.is_pulled(spec, model_home) else "no"
        where = spec.source.kind
        default = " (default)" if spec.name == settings.model.default else ""
        print(
            f"{spec.name:<22} {pulled:<7} {size:>11} {spec.input_size:>6}  {where:<10} "
            f"{spec.licence}{default}"
        )
    print(f"\nmodel home: {model_home}")
    return 0


def _models_pull(args: argparse.Namespace, settings: PackshotSettings) -> int:
    path = pull(args.name, settings)
    print(path)
    return 0


def _models_path(args: argparse.Namespace, settings: PackshotSettings) -> int:
    from tasks import model_store

    try:
        print(model_store.model_path(args.name, home(settings)))
    except model_store.ModelError as exc:
        raise UsageError(str(exc)) from None
    return 0
