"""BatchJob fields for tests: presets, the presets to do per key, and the output keys."""

from __future__ import annotations

from schemas.presets import get_preset
from tasks.pending import output_keys


def preset_fields(keys: list[str], *names: str) -> dict[str, object]:
    """Every key to be rendered into every named preset, as the planner would cut it."""
    outputs = {name: output_keys(keys, get_preset(name)) for name in names}
    return {
        "presets": list(names),
        "todo": [list(names) for _ in keys],
        "output_keys": [{name: outputs[name][i] for name in names} for i in range(len(keys))],
    }
