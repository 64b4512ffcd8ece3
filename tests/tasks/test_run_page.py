"""The run page's pieces: links that open, embedded thumbnails, the no-op line."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from schemas.catalog import CatalogRow
from tasks import run_page
from tasks.storage import SourceNotFound, Storage
from tests.support.images import encoded, product_photo


def test_local_outputs_under_the_served_folder_link_through_the_file_server(tmp_path: Path) -> None:
    link = run_page.Linker(tmp_path, "http://127.0.0.1:9999")
    assert link(str(tmp_path / "out" / "a b.jpg")) == "http://127.0.0.1:9999/out/a%20b.jpg"
    assert link("/elsewhere/x.jpg") is None  # outside the served folder: no link that would 404


def test_object_store_outputs_are_signed_and_unsignable_ones_have_no_link() -> None:
    signed = run_page.Linker(sign=lambda url: url + "?X-Amz-Signature=abc")
    assert signed("s3://shop/out/x.jpg") == "s3://shop/out/x.jpg?X-Amz-Signature=abc"

    def no_credentials(url: str) -> str:
        raise RuntimeError("no credentials")

    assert run_page.Linker(sign=no_credentials)("s3://shop/out/x.jpg") is None


def test_thumbnails_are_small_jpegs_of_the_image() -> None:
    uri = run_page.data_uri(encoded(product_photo((1600, 1200))))
    assert uri and uri.startswith("data:image/jpeg;base64,")
    thumb = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert max(thumb.size) == run_page.THUMB_SIDE
    assert run_page.data_uri(b"not an image") is None


def test_a_run_that_made_nothing_says_so() -> None:
    assert run_page.nothing_to_do(0, 7) == "nothing to do: 7 already processed"
    assert run_page.nothing_to_do(3, 7) is None


def _row(key: str, status: str, **extra) -> CatalogRow:
    return CatalogRow(
        run_id="r",
        batch=0,
        source_key=key,
        source_uri=f"/in/{key}",
        status=status,
        preset="amazon-main",
        model="m",
        model_sha256="0" * 64,
        processed_at=datetime.now(UTC),
        **extra,
    )


def test_the_table_lists_every_row_with_its_reason_and_link(tmp_path: Path) -> None:
    output = tmp_path / "amazon-main" / "a.jpg"
    output.parent.mkdir()
    output.write_bytes(encoded(product_photo()))
    rows = [
        _row("a.jpg", "processed", output_keys=[str(output)], warnings=["product_cut_off"]),
        _row("b.txt", "rejected", reason="not_an_image"),
    ]
    markdown = run_page.images_markdown(
        rows,
        read_source=lambda key: encoded(product_photo()),
        read_output=lambda path: Path(path).read_bytes(),
        link=run_page.Linker(tmp_path, "http://127.0.0.1:1"),
        headline="2 images",
    )
    assert "[a.jpg](http://127.0.0.1:1/amazon-main/a.jpg)" in markdown
    assert "not_an_image" in markdown and "product_cut_off" in markdown
    assert markdown.count("data:image/jpeg") == 3  # a's before and after, b's before


def test_a_missing_source_folder_is_an_error_not_an_empty_listing(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFound, match="does not exist"):
        Storage(str(tmp_path / "nope")).list_objects()
    assert Storage(str(tmp_path)).list_objects() == []  # empty, but there
