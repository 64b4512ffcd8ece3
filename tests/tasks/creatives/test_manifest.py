from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tasks.creatives.manifest import ManifestError, load_manifest

DEMO = Path(__file__).resolve().parents[3] / "deployments" / "demo" / "manifest.csv"
ROWS = [
    {"sku": "AB-12", "title": "Wanderschuh", "price": "1299", "currency": "EUR", "badge": "Neu"},
    {"key": "bags/red.jpg", "title": "革のバッグ", "price": "12800", "currency": "JPY"},
]


def _csv(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_csv_rows_are_found_by_key_and_by_the_sku_in_the_file_name(tmp_path: Path) -> None:
    url = _csv(
        tmp_path / "m.csv",
        "sku,key,title,subtitle,price,currency,badge\n"
        "AB-12,,Wanderschuh,Größe 42,1299,EUR,Neu\n"
        "007,bags/red.jpg,革のバッグ,,12800,jpy,\n",
    )
    manifest = load_manifest(url)
    shoe = manifest.find("shoes/AB-12_front.jpg")
    assert shoe is not None
    assert (shoe.title, shoe.subtitle, shoe.price, shoe.badge) == (
        "Wanderschuh",
        "Größe 42",
        "€1.299,00",
        "Neu",
    )
    bag = manifest.find("bags/red.jpg")
    assert bag is not None and bag.price == "¥12,800" and bag.sku == "007"  # kept as text
    assert manifest.find("shoes/ZZ-99.jpg") is None
    assert manifest.find("bags/blue.jpg") is None


def test_a_custom_sku_pattern_picks_the_sku_out_of_the_name(tmp_path: Path) -> None:
    url = _csv(tmp_path / "m.csv", "sku,title\n12345,Lamp\n")
    manifest = load_manifest(url, sku_pattern=r"sku(?P<sku>\d+)")
    assert manifest.find("photos/lamp_sku12345_v2.jpg").title == "Lamp"
    assert manifest.find("photos/lamp_12345.jpg") is None


def test_json_and_parquet_say_the_same_as_csv(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text(json.dumps({"products": ROWS}), encoding="utf-8")
    columns = {"sku": pa.string(), "key": pa.string(), "title": pa.string()}
    columns |= {"price": pa.float64(), "currency": pa.string(), "badge": pa.string()}
    rows = [{**row, "price": float(row["price"])} for row in ROWS]  # numbers in Parquet
    table = pa.Table.from_pylist(rows, schema=pa.schema(columns))
    pq.write_table(table, tmp_path / "m.parquet")
    for name in ("m.json", "m.parquet"):
        manifest = load_manifest(str(tmp_path / name))
        assert manifest.find("AB-12.jpg").price == "€1.299,00"
        assert manifest.find("bags/red.jpg").price == "¥12,800"
        assert len(manifest) == 2


def test_a_manifest_is_read_over_http(http_folder) -> None:
    folder, base = http_folder
    (folder / "m.json").write_text(json.dumps(ROWS), encoding="utf-8")
    assert load_manifest(f"{base}/m.json").find("AB-12.jpg").title == "Wanderschuh"


def test_the_demo_manifest_covers_every_sample() -> None:
    manifest = load_manifest(str(DEMO))
    samples = sorted(p.name for p in (DEMO.parents[2] / "samples").glob("*.jpg"))
    assert samples and all(manifest.find(name) is not None for name in samples)


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("m.csv", "sku,price,currency\nA1,10,EUR\n", "row 2: no title"),
        ("m.csv", "title,price\nLamp,10\n", "neither key nor sku"),
        ("m.csv", "sku,title,price\nA1,Lamp,10\n", "a price needs a currency"),
        ("m.csv", "sku,title,price,currency\nA1,Lamp,ten,EUR\n", "is not a number"),
        ("m.csv", "sku,title,price,currency\nA1,Lamp,10,EURO\n", "ISO 4217"),
        ("m.csv", "sku,title\nA1,Lamp\nA1,Desk\n", "'A1' appears twice"),
        ("m.csv", "sku,title\n", "no rows"),
        ("m.csv", "sku,title\nA1,Lamp,extra\n", "more cells than the header"),
        ("m.json", "{not json", "not valid"),
        ("m.json", '{"products": 3}', "list of objects"),
        ("m.parquet", "not parquet at all", "not valid"),
        ("m.xlsx", "whatever", "must end in .csv, .json or .parquet"),
    ],
)
def test_a_bad_manifest_is_one_line_naming_the_file(tmp_path: Path, name, content, says) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ManifestError) as caught:
        load_manifest(str(path))
    message = str(caught.value)
    assert says in message and str(path) in message and "\n" not in message


def test_a_missing_or_unreachable_manifest_is_one_line(tmp_path: Path, http_folder) -> None:
    _, base = http_folder
    for url in (str(tmp_path / "absent.csv"), f"{base}/absent.csv", "http://127.0.0.1:9/m.csv"):
        with pytest.raises(ManifestError, match="cannot be read") as caught:
            load_manifest(url)
        assert "\n" not in str(caught.value)


def test_a_bad_sku_pattern_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="regular expression"):
        load_manifest(_csv(tmp_path / "m.csv", "sku,title\nA,B\n"), sku_pattern="(")
