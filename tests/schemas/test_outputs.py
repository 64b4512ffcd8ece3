"""Ad templates are listed and found beside the presets (issue 15)."""

from __future__ import annotations

from schemas.creatives import get_template
from schemas.presets import PresetName, get_preset, load_outputs


def test_templates_are_chosen_like_presets() -> None:
    assert sorted(p.value for p in PresetName) == sorted(load_outputs())
    assert get_preset("ad-story") is get_template("ad-story")
    assert get_preset("amazon-main").name == "amazon-main"
