"""The run forms of every flow: what the Prefect UI renders from each parameter schema."""

from __future__ import annotations

import pytest
from prefect.utilities.callables import parameter_schema

from flows.process_product_images import process_product_images
from flows.review_images import review_images
from flows.sweep_bucket import sweep_bucket


@pytest.mark.parametrize("flow", [process_product_images, review_images, sweep_bucket])
def test_no_field_is_a_type_toggle_and_every_field_says_what_it_does(flow) -> None:
    properties = parameter_schema(flow).model_dump_for_openapi()["properties"]
    toggles = [name for name, spec in properties.items() if "anyOf" in spec]
    assert toggles == []
    assert all(spec.get("description") for spec in properties.values()), properties


def test_empty_optional_fields_reach_the_flow_as_unset() -> None:
    given = {"destination": "/out", "catalog": "", "preset": ""}
    assert review_images.validate_parameters(given)["preset"] is None
    chosen = review_images.validate_parameters({**given, "preset": "ebay"})["preset"]
    assert chosen.value == "ebay"
    given = {"source": "/in", "destination": "/out", "keys": []}
    assert process_product_images.validate_parameters(given)["keys"] is None


def test_the_review_form_refuses_an_unknown_preset() -> None:
    import jsonschema

    schema = parameter_schema(review_images).model_dump_for_openapi()
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"destination": "/out", "preset": "nope"}, schema)
