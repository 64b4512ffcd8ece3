from __future__ import annotations

import pyarrow as pa

from schemas.catalog import CATALOG_SCHEMA, REQUIRED_COLUMNS, CatalogRow
from schemas.models import MODELS
from schemas.presets import get_preset, load_presets
from tasks.quality import batch_expectations


def test_arrow_schema_is_derived_from_the_row_model() -> None:
    assert CATALOG_SCHEMA.names == list(CatalogRow.model_fields)
    for name, field in CatalogRow.model_fields.items():
        assert CATALOG_SCHEMA.field(name).nullable == (
            not field.is_required() and field.default is None
        )
    assert CATALOG_SCHEMA.field("output_keys").type == pa.list_(pa.string())
    assert set(REQUIRED_COLUMNS) >= {"run_id", "source_key", "status", "preset", "model"}


def test_quality_suite_checks_the_schema_columns() -> None:
    expectations = batch_expectations(get_preset("amazon-main"), max_pixels=10)
    column_set = expectations[0].column_set
    assert column_set == CATALOG_SCHEMA.names
    not_null = {
        e.column for e in expectations if type(e).__name__ == "ExpectColumnValuesToNotBeNull"
    }
    assert not_null == set(REQUIRED_COLUMNS)


def test_presets_and_models_load() -> None:
    presets = load_presets()
    marketplaces = {
        "amazon-main",
        "amazon-additional",
        "shopify",
        "ebay",
        "etsy",
        "google-merchant",
        "transparent",
    }
    assert marketplaces <= set(presets)
    for preset in presets.values():  # every published number says where it comes from
        for rule in preset.rules.model_dump(exclude_none=True).values():
            assert len(rule["source"]) > 20
    main = presets["amazon-main"]
    assert (main.size, main.background, main.fill, main.output.format) == (
        2000,
        (255, 255, 255),
        0.85,
        "JPEG",
    )
    assert MODELS["isnet-imgly"].sha256 and "AGPL" in MODELS["isnet-imgly"].licence
