"""One creative per sample photo from the real model's mask and the bundled demo manifest."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from schemas.creatives import get_template
from tasks import model_store
from tasks.creatives.manifest import load_manifest
from tasks.creatives.outputs import BatchCreatives
from tasks.imaging.compose import mask_from_raw
from tasks.imaging.sessions import get_session
from tests.conftest import SAMPLES

DEMO = Path(__file__).resolve().parents[3] / "deployments" / "demo" / "manifest.csv"


@pytest.fixture(scope="module")
def sample_masks(real_model_home) -> list[tuple[Path, Image.Image, Image.Image]]:
    """Each sample photo with the real model's mask, computed once for every template."""
    ref = model_store.resolve("isnet-imgly", real_model_home)
    session = get_session(ref, 2, str(real_model_home), "float32")
    masks = []
    for path in sorted(SAMPLES.glob("*.jpg")):
        image = Image.open(path).convert("RGB")
        masks.append(
            (path, image, mask_from_raw(session.infer(session.prepare(image)), image.size))
        )
    return masks


@pytest.mark.model
@pytest.mark.parametrize("template", ["ad-feed", "ad-story", "ad-link"])
def test_each_sample_becomes_a_creative(sample_masks, tmp_path: Path, template) -> None:
    spec = get_template(template)
    with BatchCreatives(load_manifest(str(DEMO))) as creatives:
        for path, image, mask in sample_masks:
            started = creatives.start(spec, path.name, image, mask, "ab" * 32)
            finished = creatives.finish(started)
            (tmp_path / f"{template}-{path.stem}.jpg").write_bytes(finished.data)  # to look at
            written = Image.open(io.BytesIO(finished.data))
            assert written.size == (spec.width, spec.height)
            assert finished.warnings == [] and finished.facts["generated_pixels"] is False
            assert finished.facts["manifest_sku"] == started.row.ref
            logo_slot = spec.slots.logo.pixels(spec.width, spec.height)
            logo = np.asarray(written.convert("L").crop(logo_slot))
            assert logo.min() < 60  # the demo logo's dark mark is there
            x, y = started.placed.offset
            w, h = started.placed.product.size
            alpha = np.asarray(started.placed.product.getchannel("A"))
            assert (alpha > 128).mean() > 0.2  # the cutout holds a product, not an empty box
            product = spec.slots.product.pixels(spec.width, spec.height)
            assert (
                product[0] <= x and product[1] <= y and x + w <= product[2] and y + h <= product[3]
            )
