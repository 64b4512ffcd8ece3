"""deployments/ecs/work-pool.json rendered by prefect-aws's own ECS worker code.

The job template goes through `ECSJobConfiguration.from_template_and_values` and the worker's
task-definition and run-request preparation, exactly as `prefect worker start --type ecs` does;
the VPC lookups and the task-definition registration hit moto's EC2/ECS over HTTP.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
from prefect.client.schemas.objects import FlowRun
from prefect_aws.workers.ecs_worker import ECSJobConfiguration, ECSVariables, ECSWorker

from tests.support.s3 import s3  # noqa: F401 (fixture; moto_endpoint is in tests/conftest.py)

TEMPLATE = Path(__file__).resolve().parents[2] / "deployments" / "ecs" / "work-pool.json"
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/packshot:2026.11"
TASK_ROLE = "arn:aws:iam::123456789012:role/packshot-worker"
EXECUTION_ROLE = "arn:aws:iam::123456789012:role/packshot-ecs-execution"


@pytest.fixture
def network(s3, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:  # noqa: F811
    """A VPC with two private subnets and a security group, in moto's EC2."""
    import boto3

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    ec2 = boto3.client("ec2", region_name="eu-west-1")
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.8.{i}.0/24")["Subnet"]["SubnetId"]
        for i in (1, 2)
    ]
    group = ec2.create_security_group(GroupName="packshot", Description="egress", VpcId=vpc)
    return {"vpc_id": vpc, "subnets": subnets, "security_groups": [group["GroupId"]]}


def test_the_work_pool_template_is_an_ecs_template_with_packshots_variables() -> None:
    template = json.loads(TEMPLATE.read_text())
    default = ECSWorker.get_default_base_job_template()
    # every variable prefect-aws knows is still there (a newer worker would not drop one)
    assert set(default["variables"]["properties"]) <= set(template["variables"]["properties"])
    assert set(template["variables"]["required"]) >= {
        "image",
        "task_role_arn",
        "execution_role_arn",
        "subnets",
        "security_groups",
    }
    # and the variables parse as the worker's own variable model
    ECSVariables.model_validate(
        {k: v["default"] for k, v in template["variables"]["properties"].items() if "default" in v}
        | {"image": IMAGE, "task_role_arn": TASK_ROLE, "execution_role_arn": EXECUTION_ROLE}
    )


def test_rendered_job_yields_the_task_definition_and_run_request(
    network: dict[str, object],
) -> None:
    import boto3

    template = json.loads(TEMPLATE.read_text())
    values = {
        "image": IMAGE,
        "task_role_arn": TASK_ROLE,
        "execution_role_arn": EXECUTION_ROLE,
        "memory": 8192,
        **network,
    }
    config = asyncio.run(ECSJobConfiguration.from_template_and_values(template, values))
    flow_run = FlowRun(id=uuid.uuid4(), flow_id=uuid.uuid4(), name="sunny-okapi")
    config.prepare_for_flow_run(flow_run)
    worker = ECSWorker(work_pool_name="packshot-ecs")

    taskdef = worker._prepare_task_definition(config, "eu-west-1", flow_run)
    (container,) = taskdef["containerDefinitions"]
    assert container["name"] == "packshot" and container["image"] == IMAGE
    assert (taskdef["cpu"], taskdef["memory"]) == ("4096", "8192")  # default cpu, user's memory
    assert taskdef["taskRoleArn"] == TASK_ROLE and taskdef["executionRoleArn"] == EXECUTION_ROLE
    assert taskdef["requiresCompatibilities"] == ["FARGATE"] and taskdef["networkMode"] == "awsvpc"
    assert taskdef["runtimePlatform"]["cpuArchitecture"] == "X86_64"
    assert taskdef["ephemeralStorage"] == {"sizeInGiB": 21}
    assert container["logConfiguration"] == {
        "logDriver": "awslogs",
        "options": {
            "awslogs-create-group": "false",
            "awslogs-group": "/packshot/flow-runs",
            "awslogs-region": "eu-west-1",
            "awslogs-stream-prefix": "packshot",
        },
    }

    # ECS (moto, with botocore's parameter validation) accepts it as a task definition
    ecs = boto3.client("ecs", region_name="eu-west-1")
    arn = ecs.register_task_definition(**taskdef)["taskDefinition"]["taskDefinitionArn"]

    request = worker._prepare_task_run_request(config, taskdef, arn, True)
    assert request["taskDefinition"] == arn and request["launchType"] == "FARGATE"
    assert request["cluster"] == "packshot"
    assert request["networkConfiguration"] == {
        "awsvpcConfiguration": {
            "subnets": network["subnets"],
            "securityGroups": network["security_groups"],
            "assignPublicIp": "DISABLED",
        }
    }
    (override,) = request["overrides"]["containerOverrides"]
    env = {item["name"]: item["value"] for item in override["environment"]}
    assert env["PACKSHOT_MODEL__HOME"] == "/opt/packshot/models"
    assert env["PREFECT__FLOW_RUN_ID"] == str(flow_run.id)
    assert request["overrides"]["taskRoleArn"] == TASK_ROLE
