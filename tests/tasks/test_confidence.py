"""Each confidence signal on a small synthetic image built to trigger it."""

from __future__ import annotations

import cv2
import numpy as np

from tasks.imaging.confidence import assess, combine, signals

SIDE = 200
BLUE, RED = (40, 80, 200), (200, 40, 40)


def _canvas(colour=BLUE) -> np.ndarray:
    image = np.zeros((SIDE, SIDE, 3), np.uint8)
    image[:] = colour
    return image


def _disk(radius: int, centre=(100, 100)) -> np.ndarray:
    mask = np.zeros((SIDE, SIDE), np.uint8)
    cv2.circle(mask, centre, radius, 255, -1)
    return mask


def _ring_photo() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A red ring on blue: the true mask has the hole, the bad one filled it."""
    image = _canvas()
    ring = _disk(60) & ~_disk(30)
    image[ring > 0] = RED
    return image, ring, _disk(60)


def test_a_filled_ring_keeps_background_inside_the_product() -> None:
    image, good, filled = _ring_photo()
    right, wrong = signals(image, good), signals(image, filled)
    assert wrong["background_inside"] > 0.2 > right["background_inside"]
    assert right["holes_share"] > 0.2 and wrong["holes_share"] == 0.0
    assert combine(wrong) < combine(right)


def test_a_hole_punched_into_the_product_is_product_coloured() -> None:
    image = _canvas()
    image[_disk(60) > 0] = RED
    punched = _disk(60) & ~_disk(20)
    assert signals(image, punched)["product_coloured_holes"] > 0.9
    assert signals(image, _disk(60))["product_coloured_holes"] == 0.0


def test_two_pieces_are_counted_and_dust_is_not() -> None:
    image = _canvas()
    two = _disk(30, (50, 100)) | _disk(30, (150, 100))
    dusty = _disk(40) | _disk(1, (10, 10))
    assert signals(image, two)["pieces"] == 2.0
    assert signals(image, two)["largest_piece_share"] < 0.6
    assert signals(image, dusty)["pieces"] == 1.0


def test_a_mask_grown_past_the_product_has_a_background_fringe() -> None:
    image = _canvas()
    image[_disk(50) > 0] = RED
    exact, grown = signals(image, _disk(50)), signals(image, _disk(54))
    assert grown["edge_fringe"] > 0.5 > exact["edge_fringe"] + 0.3


def test_a_soft_mask_is_uncertain_and_its_edge_wide() -> None:
    image = _canvas()
    image[_disk(50) > 0] = RED
    soft = cv2.GaussianBlur(_disk(50), (0, 0), 6)
    sharp_signals, soft_signals = signals(image, _disk(50)), signals(image, soft)
    assert soft_signals["uncertain_share"] > 5 * max(sharp_signals["uncertain_share"], 0.01)
    assert soft_signals["edge_width"] > sharp_signals["edge_width"] + 3


def test_a_product_running_off_the_frame_touches_it() -> None:
    image = _canvas()
    assert signals(image, _disk(60, (20, 100)))["frame_contact"] > 0.1
    assert signals(image, _disk(60))["frame_contact"] == 0.0


def test_no_product_has_zero_confidence() -> None:
    confidence, values = assess(_canvas(), np.zeros((SIDE, SIDE), np.uint8))
    assert confidence == 0.0 and values["foreground_share"] == 0.0


def test_confidence_is_a_probability_and_large_images_are_reduced() -> None:
    image = cv2.resize(_canvas(), (2000, 1500))
    mask = cv2.resize(_disk(60), (2000, 1500), interpolation=cv2.INTER_NEAREST)
    confidence, values = assess(image, mask)
    assert 0.0 < confidence < 1.0
    assert abs(values["foreground_share"] - np.mean(mask > 0)) < 0.01
