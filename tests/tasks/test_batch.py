"""The batch function on a folder of every kind of file a seller's upload may hold."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from schemas.catalog import Outcome, Reason, WarningCode
from schemas.models import ModelRef
from schemas.presets import get_preset
from schemas.run import BatchJob
from tasks.batch import SIDE_NICE, run_batch, side_pool
from tasks.imaging.rules import judge_output
from tasks.imaging.sessions import inference
from tasks.pending import output_keys
from tasks.quarantine import QUARANTINE_PREFIX
from tests.support.images import encoded, product_photo
from tests.support.jobs import preset_fields

P, R = Outcome.PROCESSED, Outcome.REJECTED
MAX_PIXELS = 20_000_000


def _animated_gif() -> bytes:
    frames = [product_photo((640, 640)).convert("P"), Image.new("P", (640, 640), 3)]
    return encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)


def _cut_off() -> Image.Image:
    image = Image.new("RGB", (800, 600), (210, 210, 205))
    image.paste((20, 40, 80), (0, 150, 800, 450))  # a product wider than the frame
    return image


def _noise(seed: int = 1) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(170, 255, (600, 800, 3), dtype=np.uint8))


def _sixteen_bit() -> bytes:
    grey = np.asarray(product_photo((600, 600)).convert("L"), np.uint16) * 257
    return encoded(Image.fromarray(grey), "PNG")


def _palette() -> bytes:
    image = product_photo((640, 640)).convert("P")
    return encoded(image, "PNG", transparency=255)


# key -> (bytes, outcome, reason code, warnings that must be present)
CASES: dict[str, tuple[bytes, Outcome, Reason | None, set[str]]] = {
    "shoe one.jpg": (encoded(product_photo((1200, 900))), P, None, set()),
    "nested/ünïcødé+%20.png": (encoded(product_photo((700, 700)), "PNG"), P, None, set()),
    "lying-extension.jpg": (encoded(product_photo((640, 640)), "PNG"), P, None, set()),
    "grey.jpg": (encoded(product_photo((900, 700)).convert("L")), P, None, set()),
    "cmyk.jpg": (encoded(product_photo((900, 700)).convert("CMYK")), P, None, set()),
    "palette.png": (_palette(), P, None, set()),
    "sixteen.png": (_sixteen_bit(), P, None, set()),
    "animated.gif": (_animated_gif(), P, None, {WarningCode.MULTI_FRAME}),
    "edge.jpg": (encoded(_cut_off()), P, None, {WarningCode.PRODUCT_CUT_OFF}),
    "small-but-ok.jpg": (
        encoded(product_photo((640, 480))),
        P,
        None,
        {WarningCode.BELOW_RECOMMENDED_SIZE},
    ),
    "empty.jpg": (b"", R, Reason.EMPTY_FILE, set()),
    "page.html": (b"<html><body>not a photo</body></html>", R, Reason.NOT_AN_IMAGE, set()),
    "notes.txt": (b"shoe, size 42, red\n", R, Reason.NOT_AN_IMAGE, set()),
    "logo.svg": (b"<svg xmlns='http://www.w3.org/2000/svg'/>", R, Reason.UNSUPPORTED_FORMAT, set()),
    "scan.pdf": (b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n", R, Reason.UNSUPPORTED_FORMAT, set()),
    "phone.heic": (  # HEIC is decoded now: a header with nothing behind it is damaged
        b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64,
        R,
        Reason.CORRUPT,
        set(),
    ),
    "truncated.jpg": (encoded(product_photo((800, 600)))[:3000], R, Reason.CORRUPT, set()),
    "bomb.png": (
        encoded(Image.new("L", (6000, 6000)), "PNG", optimize=True),
        R,
        Reason.DECOMPRESSION_BOMB,
        set(),
    ),
    "tiny.jpg": (encoded(product_photo((120, 90))), R, Reason.TOO_SMALL, set()),
    "banner.jpg": (encoded(product_photo((3000, 400))), R, Reason.EXTREME_ASPECT_RATIO, set()),
    "blank.jpg": (
        encoded(Image.new("RGB", (800, 600), (230, 230, 230))),
        R,
        Reason.BLANK_IMAGE,
        set(),
    ),
    "clear.png": (
        encoded(Image.new("RGBA", (800, 600), (255, 0, 0, 0)), "PNG"),
        R,
        Reason.FULLY_TRANSPARENT,
        set(),
    ),
    "backdrop-only.jpg": (encoded(_noise()), R, Reason.NO_FOREGROUND, set()),
}


def _job(source: Path, dest: Path, ref: ModelRef, home: Path, keys: list[str]) -> BatchJob:
    preset = get_preset("amazon-main")
    return BatchJob(
        run_id="test-run",
        batch=0,
        source=str(source),
        source_keys=keys,
        destination=str(dest),
        catalog=str(dest / "catalog"),
        **preset_fields(keys, preset.name),
        model=ref,
        model_home=str(home),
        onnx_threads=1,
        max_pixels=MAX_PIXELS,
    )


@pytest.fixture
def job(tmp_path: Path, tiny_ref: ModelRef, model_home: Path) -> BatchJob:
    source = tmp_path / "in"
    for key, (data, *_rest) in CASES.items():
        (source / key).parent.mkdir(parents=True, exist_ok=True)
        (source / key).write_bytes(data)
    return _job(source, tmp_path / "out", tiny_ref, model_home, sorted(CASES))


def test_every_input_is_accounted_for_with_the_right_outcome(job: BatchJob) -> None:
    rows = {row.source_key: row for row in run_batch(job)}
    assert list(rows) == job.source_keys
    got = {key: (row.status, row.reason) for key, row in rows.items()}
    assert got == {key: (case[1], case[2]) for key, case in CASES.items()}
    for key, (_, outcome, _, warnings) in CASES.items():
        row = rows[key]
        assert warnings <= set(row.warnings), (key, row.warnings)
        if outcome == R:
            assert row.detail, key
    assert rows["lying-extension.jpg"].format == "PNG"
    assert rows["animated.gif"].frames == 2
    assert rows["sixteen.png"].mode.startswith("I")
    assert WarningCode.PRODUCT_CUT_OFF not in rows["shoe one.jpg"].warnings
    for row in rows.values():  # how the model ran, on every row it ran for
        assert row.inference == (None if row.mask_ms is None else inference(job.precision))
        if row.status != P:
            continue
        (out,) = row.output_keys
        image = Image.open(out)
        assert image.size == (2000, 2000) and image.format == "JPEG"
        corners = np.asarray(image)[[0, 0, -1, -1], [0, -1, 0, -1]]
        assert (corners == 255).all()
        assert row.sha256 and row.phash and row.sharpness and row.product_fill
        assert row.model_sha256 == job.model.sha256


def test_rejected_originals_are_copied_to_quarantine_and_cleared_once_fixed(
    job: BatchJob, tmp_path: Path, tiny_ref: ModelRef, model_home: Path
) -> None:
    rows = {row.source_key: row for row in run_batch(job)}
    quarantine = tmp_path / "out" / QUARANTINE_PREFIX
    assert (quarantine / "tiny.jpg").read_bytes() == CASES["tiny.jpg"][0]
    sidecar = json.loads((quarantine / "tiny.jpg.reasons.json").read_text())
    assert sidecar["reason"] == "too_small" and "500" in sidecar["detail"]
    assert rows["tiny.jpg"].quarantine_key == str(quarantine / "tiny.jpg")
    assert not (quarantine / "shoe one.jpg").exists()
    # the seller re-uploads a fixed photo under the same key: the next run processes it
    (Path(job.source) / "tiny.jpg").write_bytes(encoded(product_photo((1100, 900))))
    again = run_batch(_job(Path(job.source), tmp_path / "out", tiny_ref, model_home, ["tiny.jpg"]))
    assert again[0].status == P
    assert not (quarantine / "tiny.jpg").exists()
    assert not (quarantine / "tiny.jpg.reasons.json").exists()


def test_an_unreadable_key_fails_without_sinking_the_batch(job: BatchJob) -> None:
    keys = ["shoe one.jpg", "vanished.jpg"]
    job = job.model_copy(update={"source_keys": keys, **preset_fields(keys, "amazon-main")})
    rows = run_batch(job)
    assert [r.status for r in rows] == [P, Outcome.FAILED]
    assert rows[1].error and "FileNotFoundError" in rows[1].error


def test_originals_are_never_modified(job: BatchJob) -> None:
    source = Path(job.source)
    before = {p: p.read_bytes() for p in source.rglob("*") if p.is_file()}
    run_batch(job)
    after = {p: p.read_bytes() for p in source.rglob("*") if p.is_file()}
    assert before == after


def test_output_rules() -> None:
    preset = get_preset("amazon-main")
    assert judge_output(2000, 2000, 9_000_000, preset) is None
    too_big = judge_output(2000, 2000, 11_000_000, preset)
    assert too_big is not None and too_big.reason == Reason.OUTPUT_TOO_LARGE
    assert "10 MB" in too_big.detail


def test_output_keys_stay_unique() -> None:
    preset = get_preset("transparent")
    keys = ["a/shoe.jpg", "a/shoe.png", "b/bag.jpeg"]
    assert output_keys(keys, preset) == [
        "transparent/a/shoe.jpg.png",
        "transparent/a/shoe.png.png",
        "transparent/b/bag.png",
    ]


@pytest.mark.skipif(sys.platform != "linux", reason="a per-thread nice value is Linux's")
def test_side_threads_yield_to_the_model() -> None:
    """Read, decode, compose and encode run below the model's priority; the caller's is kept."""
    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    with side_pool() as pool:
        side = pool.submit(lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        assert side.result() == min(19, own + SIDE_NICE)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == own


def test_one_mask_renders_every_preset_and_each_preset_keeps_its_own_rules(
    tmp_path: Path, tiny_ref: ModelRef, model_home: Path
) -> None:
    source = tmp_path / "in"
    source.mkdir()
    files = {
        "big.jpg": encoded(product_photo((1200, 900))),
        "mid.jpg": encoded(product_photo((640, 480))),  # under shopify's 800 px, over amazon's 500
        "notes.txt": b"not a photo",
    }
    for key, data in files.items():
        (source / key).write_bytes(data)
    keys = sorted(files)
    presets = ("amazon-main", "shopify", "transparent")
    job = _job(source, tmp_path / "out", tiny_ref, model_home, keys)
    job = job.model_copy(update=preset_fields(keys, *presets))
    rows = run_batch(job)
    got = {(row.source_key, row.preset): (row.status, row.reason) for row in rows}
    assert got == {
        ("big.jpg", "amazon-main"): (P, None),
        ("big.jpg", "shopify"): (P, None),
        ("big.jpg", "transparent"): (P, None),
        ("mid.jpg", "amazon-main"): (P, None),
        ("mid.jpg", "shopify"): (R, Reason.TOO_SMALL),
        ("mid.jpg", "transparent"): (P, None),
        ("notes.txt", "amazon-main"): (R, Reason.NOT_AN_IMAGE),
        ("notes.txt", "shopify"): (R, Reason.NOT_AN_IMAGE),
        ("notes.txt", "transparent"): (R, Reason.NOT_AN_IMAGE),
    }
    for key in ("big.jpg", "mid.jpg"):  # one inference per photo: its time is on one row
        timed = [row for row in rows if row.source_key == key and row.mask_ms is not None]
        assert [row.preset for row in timed] == ["amazon-main"]
    sizes = {row.preset: Image.open(row.output_keys[0]).size for row in rows if row.status == P}
    assert sizes["amazon-main"] == (2000, 2000) and sizes["shopify"] == (2048, 2048)
    assert Image.open(tmp_path / "out" / "transparent" / "big.png").mode == "RGBA"
    # usable for some preset: not quarantined; unusable for all: quarantined once
    quarantine = tmp_path / "out" / QUARANTINE_PREFIX
    assert not (quarantine / "mid.jpg").exists()
    sidecar = json.loads((quarantine / "notes.txt.reasons.json").read_text())
    assert set(sidecar["presets"]) == set(presets)


def test_only_the_presets_still_to_do_are_rendered(
    tmp_path: Path, tiny_ref: ModelRef, model_home: Path
) -> None:
    source = tmp_path / "in"
    source.mkdir()
    (source / "a.jpg").write_bytes(encoded(product_photo((1200, 900))))
    job = _job(source, tmp_path / "out", tiny_ref, model_home, ["a.jpg"])
    fields = preset_fields(["a.jpg"], "amazon-main", "transparent")
    job = job.model_copy(update={**fields, "todo": [["transparent"]]})
    rows = run_batch(job)
    assert [(row.preset, row.status) for row in rows] == [("transparent", P)]
    assert not (tmp_path / "out" / "amazon-main").exists()
