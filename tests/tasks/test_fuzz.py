"""Mutated image bytes through the batch function: nothing crashes, nothing is lost."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.catalog import Outcome
from schemas.models import ModelRef
from schemas.presets import get_preset
from schemas.run import BatchJob
from tasks.batch import run_batch
from tests.support.images import encoded, product_photo
from tests.support.jobs import preset_fields

SEEDS = [
    encoded(product_photo((640, 480))),
    encoded(product_photo((600, 600)), "PNG"),
    encoded(product_photo((520, 520)).convert("P"), "GIF"),
    encoded(product_photo((560, 560)), "WEBP"),
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 8))):  # flip bytes
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):  # insert junk
        at = draw(st.integers(0, len(data)))
        data[at:at] = draw(st.binary(max_size=64))
    return bytes(data[: draw(st.integers(0, len(data)))] if draw(st.booleans()) else data)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(files=st.lists(mutated(), min_size=1, max_size=4))
def test_mutated_files_never_crash_and_are_all_accounted_for(
    files: list[bytes], tiny_ref: ModelRef, model_home: Path
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "in"
        source.mkdir()
        keys = [f"photo-{i}.jpg" for i in range(len(files))]
        for key, data in zip(keys, files, strict=True):
            (source / key).write_bytes(data)
        preset = get_preset("transparent")
        job = BatchJob(
            run_id="fuzz",
            batch=0,
            source=str(source),
            source_keys=keys,
            destination=str(Path(tmp) / "out"),
            catalog=str(Path(tmp) / "out" / "catalog"),
            **preset_fields(keys, preset.name),
            model=tiny_ref,
            model_home=str(model_home),
            onnx_threads=1,
            max_pixels=20_000_000,
        )
        rows = run_batch(job)
    assert [row.source_key for row in rows] == keys  # seen = processed + rejected + failed
    for row in rows:
        assert row.status in {o.value for o in Outcome}
        assert (row.status == Outcome.REJECTED) == (row.reason is not None)
        assert (row.status == Outcome.FAILED) == (row.error is not None)
        # a decoder failure on bad bytes is a rejection with a reason, not an infrastructure failure
        assert row.status != Outcome.FAILED, row.error
