"""What the verbs share: the usage error, the model home, pulling a model."""

from __future__ import annotations

from pathlib import Path

from schemas.settings import PackshotSettings


class UsageError(Exception):
    """The command cannot run as asked; the message is the one-line reason."""


def home(settings: PackshotSettings) -> Path:
    return settings.model.home.expanduser()


def pull(name: str, settings: PackshotSettings) -> Path:
    from tasks import model_store

    try:
        return model_store.pull(name, home(settings))
    except model_store.ModelError as exc:
        raise UsageError(str(exc)) from None
