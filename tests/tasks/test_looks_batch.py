"""Looks in the batch: recipe facts reach the catalog rows; a scene that breaks mid-run is a
rejected row with its reason, the image's other presets unharmed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from schemas.catalog import Outcome, Reason
from schemas.models import ModelRef
from schemas.run import BatchJob
from tasks.batch import run_batch
from tasks.imaging import recipe
from tests.support.images import encoded, product_photo
from tests.support.jobs import preset_fields

PRESETS = ("amazon-main", "studio-shadow", "tabletop-scene")


def _job(tmp_path: Path, ref: ModelRef, home: Path) -> BatchJob:
    source = tmp_path / "in"
    source.mkdir()
    (source / "a.jpg").write_bytes(encoded(product_photo((1200, 900))))
    return BatchJob(
        run_id="test-run",
        batch=0,
        source=str(source),
        source_keys=["a.jpg"],
        destination=str(tmp_path / "out"),
        catalog=str(tmp_path / "out" / "catalog"),
        **preset_fields(["a.jpg"], *PRESETS),
        model=ref,
        model_home=str(home),
        onnx_threads=1,
        max_pixels=20_000_000,
    )


def test_recipe_facts_land_on_each_row(tmp_path: Path, tiny_ref: ModelRef, model_home) -> None:
    rows = {row.preset: row for row in run_batch(_job(tmp_path, tiny_ref, model_home))}
    assert {name: rows[name].status for name in PRESETS} == dict.fromkeys(
        PRESETS, Outcome.PROCESSED.value
    )
    main, shadow, scene = (rows[name] for name in PRESETS)
    assert (main.backdrop, main.shadow, main.altered_by) == ("solid", None, [])
    assert shadow.shadow == "contact" and shadow.edge_refined is True
    assert main.product_delta == 0.0 and shadow.product_delta == 0.0
    assert scene.backdrop == "scene" and scene.altered_by == ["harmonise"]
    assert scene.harmonise_brightness is not None
    out = np.asarray(Image.open(shadow.output_keys[0]))
    ring = np.concatenate([out[:4].reshape(-1, 3), out[-4:].reshape(-1, 3)])
    assert (ring == 255).all()


def test_a_scene_gone_mid_run_rejects_only_that_preset(
    tmp_path: Path, tiny_ref: ModelRef, model_home, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = tmp_path / "no-scenes"
    gone.mkdir()
    monkeypatch.setattr(recipe, "DEFAULT_SCENES", gone)  # the scene folder emptied mid-run
    rows = {row.preset: row for row in run_batch(_job(tmp_path, tiny_ref, model_home))}
    assert rows["tabletop-scene"].status == Outcome.REJECTED.value
    assert rows["tabletop-scene"].reason == Reason.SCENE_UNAVAILABLE.value
    assert "tabletop.json" in (rows["tabletop-scene"].detail or "")
    assert rows["amazon-main"].status == rows["studio-shadow"].status == Outcome.PROCESSED.value


def test_a_scene_preset_reads_its_scene_from_the_run_s_scene_storage_on_s3(
    s3,
    tmp_path: Path,
    tiny_ref: ModelRef,
    model_home: Path,  # noqa: F811
) -> None:
    from schemas.presets import get_preset

    s3.create_bucket(Bucket="seller-scenes")
    for name in ("tabletop.json", "tabletop.jpg"):
        body = (recipe.DEFAULT_SCENES / name).read_bytes()
        s3.put_object(Bucket="seller-scenes", Key=f"looks/{name}", Body=body)
    preset = get_preset("tabletop-scene")
    recipe.validate_presets([preset], recipe.scene_reader("s3://seller-scenes/looks"))
    with pytest.raises(recipe.PresetError):  # an empty prefix: one line before the run
        recipe.validate_presets([preset], recipe.scene_reader("s3://seller-scenes/nothing"))
    job = _job(tmp_path, tiny_ref, model_home)
    rows = run_batch(job.model_copy(update={"scenes": "s3://seller-scenes/looks"}))
    scene = next(row for row in rows if row.preset == "tabletop-scene")
    assert scene.status == Outcome.PROCESSED.value and scene.backdrop == "scene", scene.detail
