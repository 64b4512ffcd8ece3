from __future__ import annotations

from pathlib import Path

from tasks.storage import Storage, relative_prefix


def test_local_storage_round_trip_and_listing(tmp_path: Path) -> None:
    store = Storage(str(tmp_path))
    for key in ["a b.jpg", "nested/ünï+%.png", ".hidden", "x/.DS_Store"]:
        store.write(key, b"data")
    assert store.list() == ["a b.jpg", "nested/ünï+%.png"]
    assert store.read("nested/ünï+%.png") == b"data"
    assert store.exists("a b.jpg") and not store.exists("nope")
    assert not list(tmp_path.rglob("*.partial"))  # atomic writes leave nothing behind


def test_listing_skips_nested_destination(tmp_path: Path) -> None:
    source = Storage(str(tmp_path))
    source.write("in.jpg", b"1")
    source.write("out/amazon-main/in.jpg", b"2")
    skip = relative_prefix(source, Storage(str(tmp_path / "out")))
    assert skip == "out"
    assert source.list(skip_prefixes=(skip,)) == ["in.jpg"]
    assert relative_prefix(source, Storage(str(tmp_path.parent / "elsewhere"))) is None
