"""The scale-out deployments in deployments/prefect.yaml fit the flow and the ECS work pool."""

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
    spec = yaml.safe_load((DEPLOYMENTS / "prefect.yaml").read_text())
    return {d["name"]: d for d in spec["deployments"]}


@pytest.mark.parametrize("name", SCALE_OUT)
def test_parameters_validate_against_the_flows_schema(name: str) -> None:
    deployment = _deployments()[name]
    schema = parameter_schema(process_product_images).model_dump_for_openapi()
    values = {"source": "s3://in", "destination": "s3://out", **deployment["parameters"]}
    jsonschema.validate(values, schema)
    assert deployment["entrypoint"] == "flows/process_product_images.py:process_product_images"


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
