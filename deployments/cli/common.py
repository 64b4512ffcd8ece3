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


def parse_presets(values: list[str] | None) -> list[str]:
    """`--preset a --preset b,c` as names, or the usage error naming the unknown one."""
    from schemas.presets import parse_preset_names

    try:
        return parse_preset_names(values)
    except KeyError as exc:
        raise UsageError(str(exc).strip("'\"")) from None


def check_presets(names: list[str], scenes: str | None = None) -> None:
    """The usage error, in one line, for a preset that cannot render (its scene is missing,
    unreadable or places the product off the output), before a run exists."""
    from schemas.presets import get_preset
    from tasks.imaging.recipe import PresetError, scene_reader, validate_presets

    try:
        validate_presets([get_preset(name) for name in names], scene_reader(scenes))
    except PresetError as exc:
        raise UsageError(str(exc)) from None
