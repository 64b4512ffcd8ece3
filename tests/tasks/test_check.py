from __future__ import annotations

from pathlib import Path

from tasks.imaging.check import check_source
from tests.support.images import encoded, product_photo


def test_check_judges_every_file_without_the_model(tmp_path: Path) -> None:
    (tmp_path / "good.jpg").write_bytes(encoded(product_photo((2400, 1800))))
    (tmp_path / "small.jpg").write_bytes(encoded(product_photo((300, 200))))
    (tmp_path / "mid.jpg").write_bytes(encoded(product_photo((1500, 1000))))
    (tmp_path / "note.txt").write_text("hello")
    results = dict(check_source(str(tmp_path), "amazon-main", max_pixels=50_000_000))
    assert results["good.jpg"].status == "processed"
    assert (results["good.jpg"].width, results["good.jpg"].height) == (2400, 1800)
    assert results["small.jpg"].reason == "too_small"
    assert results["note.txt"].reason == "not_an_image"
    assert results["mid.jpg"].warnings == []  # Amazon recommends 1000 px
    shopify = dict(check_source(str(tmp_path), "shopify", max_pixels=50_000_000))
    assert shopify["mid.jpg"].warnings == ["below_recommended_size"]  # Shopify: 2048 px
    assert shopify["good.jpg"].warnings == []
