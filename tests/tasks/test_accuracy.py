"""The benchmark's metrics on composites whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from benchmarks.composites import KINDS, SUBJECTS, make
from tasks.imaging.accuracy import alpha_mae, boundary_f, iou, score, summarise


@pytest.fixture(scope="module")
def subjects() -> dict[str, Image.Image]:
    """One synthetic subject (a red bag-like box with a handle) under every code."""
    image = Image.new("RGBA", (256, 256), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rectangle((48, 96, 208, 224), fill=(190, 40, 40, 255))
    draw.arc((88, 40, 168, 140), 180, 360, fill=(120, 30, 30, 255), width=12)
    return dict.fromkeys(SUBJECTS, image)


@pytest.mark.parametrize("index", range(5))
def test_a_perfect_mask_scores_one_and_an_empty_one_zero(subjects, index: int) -> None:
    rgb, truth, facts = make(index, subjects)
    assert rgb.shape == (*truth.shape, 3) and facts["kind"] == KINDS[index]
    perfect = score(truth, truth)
    assert perfect.iou == 1.0 and perfect.alpha_mae == 0.0 and perfect.boundary_f == 1.0
    empty = score(np.zeros_like(truth), truth)
    assert empty.iou == 0.0 and empty.boundary_f == 0.0
    assert empty.alpha_mae == pytest.approx(truth.mean() / 255.0)


def test_composites_are_the_same_every_time(subjects) -> None:
    first, second = make(7, subjects), make(7, subjects)
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])
    assert not np.array_equal(first[0], make(8, subjects)[0])


def test_iou_of_two_overlapping_squares() -> None:
    truth = np.zeros((100, 100), np.uint8)
    truth[20:60, 20:60] = 255
    pred = np.zeros_like(truth)
    pred[40:80, 20:60] = 255  # half of each square overlaps: 800 / 2400
    assert iou(pred, truth) == pytest.approx(800 / 2400)
    assert alpha_mae(pred, truth) == pytest.approx(1600 / 10_000)


def test_boundary_f_tolerates_two_pixels_and_not_four() -> None:
    truth = np.zeros((100, 100), np.uint8)
    truth[20:80, 20:80] = 255
    near, far = np.zeros_like(truth), np.zeros_like(truth)
    near[22:82, 20:80] = 255  # 2 px down: every edge pixel has a partner within 2 px
    far[25:85, 20:80] = 255
    assert boundary_f(near, truth) == pytest.approx(1.0)
    assert boundary_f(far, truth) < 0.6


def test_summary_counts_bad_cutouts() -> None:
    truth = np.full((10, 10), 255, np.uint8)
    half = truth.copy()
    half[:5] = 0
    result = summarise([score(truth, truth), score(half, truth)])
    assert result["n"] == 2 and result["share_iou_below_0_90"] == 0.5
    assert result["iou"] == pytest.approx(0.75)
