from __future__ import annotations

import numpy as np
from PIL import Image

from schemas.catalog import WarningCode
from schemas.creatives import get_template
from tasks.creatives.logo import load_logo, resolve
from tasks.creatives.manifest import Manifest, ManifestRow
from tasks.creatives.outputs import BatchCreatives
from tests.tasks.creatives.helpers import product


def _logo() -> Image.Image:
    logo = Image.new("RGBA", (120, 40), (0, 0, 0, 0))
    logo.paste((200, 20, 20, 255), (0, 0, 60, 40))
    return logo


def test_a_logo_is_read_from_a_url_with_its_alpha(http_folder) -> None:
    folder, base = http_folder
    _logo().save(folder / "brand.png")
    logo = load_logo(f"{base}/brand.png")
    assert logo.mode == "RGBA" and logo.size == (120, 40)
    alpha = np.asarray(logo.getchannel("A"))
    assert alpha[:, :60].min() == 255 and alpha[:, 60:].max() == 0


def test_relative_logos_are_taken_from_the_manifests_folder() -> None:
    assert resolve("logo.png", "s3://bucket/ads") == "s3://bucket/ads/logo.png"
    assert resolve("https://cdn.example/l.png", "s3://bucket/ads") == "https://cdn.example/l.png"
    assert resolve("/abs/l.png", "s3://bucket/ads") == "/abs/l.png"


def test_an_unreadable_logo_is_a_warning_and_the_creative_goes_out(tmp_path) -> None:
    row = ManifestRow(sku="AB-12", key=None, title="Lamp", logo="missing.png")
    manifest = Manifest(f"{tmp_path}/m.csv", {}, {"AB-12": row})
    image, mask = product()
    with BatchCreatives(manifest) as creatives:
        started = creatives.start(get_template("ad-feed"), "AB-12.jpg", image, mask, "0")
        finished = creatives.finish(started)
    assert finished.warnings == [WarningCode.LOGO_UNREADABLE.value]
    assert finished.data[:2] == b"\xff\xd8"  # a JPEG all the same


def test_a_dark_logo_on_a_dark_background_gets_a_light_plate() -> None:
    from tasks.creatives.render import place_logo

    template = get_template("ad-feed")
    dark = Image.new("RGB", (template.width, template.height), (20, 20, 24))
    mark = Image.new("RGBA", (120, 40), (0, 0, 0, 0))
    mark.paste((30, 30, 30, 255), (10, 10, 110, 30))
    left, top, right, bottom = place_logo(dark, mark, template.slots.logo)
    pixels = np.asarray(dark)
    assert pixels[top + 1, (left + right) // 2].min() > 240  # the plate's edge
    middle = pixels[(top + bottom) // 2, left + (right - left) // 2]
    assert middle.max() < 60  # the logo itself, its colour unchanged
