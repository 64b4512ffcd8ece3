from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tasks import model_store
from tasks.imaging import sessions
from tasks.imaging.compose import mask_from_raw
from tasks.imaging.sessions import OPENVINO, get_session, inference, native_bfloat16, settle

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
CPU = ["CPUExecutionProvider"]


@pytest.mark.parametrize(
    ("precision", "available", "bfloat16", "label"),
    [
        ("auto", [OPENVINO, *CPU], True, "bfloat16/openvino"),
        ("auto", [OPENVINO, *CPU], False, "float32/cpu"),
        ("auto", CPU, True, "float32/cpu"),
        ("float32", [OPENVINO, *CPU], True, "float32/cpu"),
        ("bfloat16", [OPENVINO, *CPU], True, "bfloat16/openvino"),
    ],
)
def test_auto_takes_bfloat16_only_where_the_cpu_and_onnxruntime_both_have_it(
    precision, available, bfloat16, label
) -> None:
    assert settle(precision, available, bfloat16) == label


def test_bfloat16_asked_for_where_it_cannot_run_says_what_is_missing() -> None:
    with pytest.raises(RuntimeError, match="onnxruntime-openvino package.*CPUExecutionProvider"):
        settle("bfloat16", CPU, True)
    with pytest.raises(RuntimeError, match="avx512_bf16 or amx_bf16"):
        settle("bfloat16", [OPENVINO, *CPU], False)


def test_bfloat16_instructions_are_read_from_the_cpu_flags() -> None:
    assert native_bfloat16("flags : fpu avx2 avx512f avx512_bf16 avx512_vnni")
    assert native_bfloat16("flags : fpu avx2 amx_bf16 amx_tile")
    assert not native_bfloat16("flags : fpu avx2 avx512f avx512_vnni")
    assert not native_bfloat16("flags : fpu avx2 avx512_bf16x")


def test_the_bfloat16_mask_is_the_float32_mask_within_a_few_levels(real_model_home) -> None:
    if inference("auto") != "bfloat16/openvino":
        pytest.skip(f"this host runs {inference('auto')}: no bfloat16 to compare")
    ref = model_store.resolve("isnet-imgly", real_model_home)
    exact = get_session(ref, 2, str(real_model_home), "float32")
    fast = get_session(ref, 2, str(real_model_home), "bfloat16")
    assert exact.inner_session.get_providers() == CPU
    assert fast.inner_session.get_providers()[0] == OPENVINO
    for name in ("baby.jpg", "product.jpg"):  # baby: the most edge of the four samples
        image = Image.open(SAMPLES / name)
        tensor = exact.prepare(image)
        masks = [
            np.asarray(mask_from_raw(s.infer(tensor), image.size), np.int16) for s in (exact, fast)
        ]
        levels = np.abs(masks[0] - masks[1])
        flipped = (masks[0] >= 128) != (masks[1] >= 128)
        assert levels.max() <= 8, name  # 4-5 when written
        assert levels.mean() < 0.5, name  # 0.13 and 0.01
        assert flipped.mean() < 0.002, name  # 0.08% and 0.002%


def _files(folder: Path) -> dict[Path, tuple[int, int]]:
    """Each file's inode and mtime, but the S3 spool's, which other runs may write."""
    return {
        p: (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file() and "spool" not in p.relative_to(folder).parts
    }


def test_building_a_bfloat16_session_writes_nothing_to_the_model_home(real_model_home) -> None:
    if inference("auto") != "bfloat16/openvino":
        pytest.skip(f"this host runs {inference('auto')}: no OpenVINO session to build")
    ref = model_store.resolve("isnet-imgly", real_model_home)
    sessions._cached_session.__wrapped__(ref, 2, str(real_model_home), "bfloat16/openvino")
    before = _files(real_model_home)  # the first build may make the prepared graph
    session = sessions._cached_session.__wrapped__(
        ref, 2, str(real_model_home), "bfloat16/openvino"
    )
    assert session.inner_session.get_providers()[0] == OPENVINO
    assert _files(real_model_home) == before


def _publisher_resize(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """`tensorResizeBilinear` of @imgly/background-removal-node 1.4.5, in NumPy: the 2x2
    neighbours of (x * scale, y * scale), no anti-aliasing filter, rounded to 0..255."""
    src_h, src_w = pixels.shape[:2]
    xs, ys = np.arange(width) * (src_w / width), np.arange(height) * (src_h / height)
    x1, y1 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    x2 = np.minimum(np.ceil(xs), src_w - 1).astype(int)
    y2 = np.minimum(np.ceil(ys), src_h - 1).astype(int)
    dx, dy = (xs - x1)[None, :, None], (ys - y1)[:, None, None]
    p = pixels.astype(np.float64)
    top = (1 - dx) * p[y1][:, x1] + dx * p[y1][:, x2]
    bottom = (1 - dx) * p[y2][:, x1] + dx * p[y2][:, x2]
    return np.round((1 - dy) * top + dy * bottom)


def test_the_model_input_is_the_publishers_within_a_level_on_average(real_model_home) -> None:
    session = get_session(
        model_store.resolve("isnet-imgly", real_model_home), 1, str(real_model_home), "float32"
    )
    image = Image.open(SAMPLES / "product.jpg").convert("RGB")
    ours = session.prepare(image)[0] * 256 + 128  # back to 0..255, channel-first
    theirs = _publisher_resize(np.asarray(image), 1024, 1024).transpose(2, 0, 1)
    # Pixel centres against corners: the same filter, shifted by under half a source pixel.
    assert np.abs(ours - theirs).mean() < 1.0  # 0.67 (Pillow's filtered resize: 0.71)
    assert np.percentile(np.abs(ours - theirs), 99) <= 12  # 8
