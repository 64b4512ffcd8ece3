"""The scale-out deployments in deployments/{,ecs/}prefect.yaml fit the flow and the pool."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from prefect.utilities.callables import parameter_schema

from flows.process_product_images import process_product_images

DEPLOYMENTS = Path(__file__).resolve().parents[2] / "deployments"
SCALE_OUT = ("dask-cluster", "ecs", "ecs-lambda")


def _deployments() -> dict[str, dict]:
    files = (DEPLOYMENTS / "prefect.yaml", DEPLOYMENTS / "ecs" / "prefect.yaml")
    specs = [yaml.safe_load(path.read_text()) for path in files]
    return {d["name"]: d for spec in specs for d in spec["deployments"]}


@pytest.mark.parametrize("name", SCALE_OUT)
def test_parameters_validate_against_the_flows_schema(name: str) -> None:
    deployment = _deployments()[name]
    schema = parameter_schema(process_product_images).model_dump_for_openapi()
    values = {"source": "s3://in", "destination": "s3://out", **deployment["parameters"]}
    jsonschema.validate(values, schema)
    # A module path: Dask workers unpickle the flow module's objects by its importable name.
    assert deployment["entrypoint"] == "flows.process_product_images:process_product_images"


@pytest.mark.parametrize("name", ["ecs", "ecs-lambda"])
def test_ecs_job_variables_are_variables_of_the_work_pool(name: str) -> None:
    pool = json.loads((DEPLOYMENTS / "ecs" / "work-pool.json").read_text())
    deployment = _deployments()[name]
    assert deployment["work_pool"]["name"] == "packshot-ecs"
    assert set(deployment["work_pool"]["job_variables"]) <= set(pool["variables"]["properties"])


def test_a_wrong_engine_would_not_validate() -> None:
    schema = parameter_schema(process_product_images).model_dump_for_openapi()
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"source": "a", "destination": "b", "engine": "ray"}, schema)
