"""Which AWS actions each IAM policy in deployments/iam/ may grant, from the code that calls them.

Each module that calls AWS keeps the list of actions it calls next to the calls; this module
only assembles them per role, so a policy cannot grant more than the code does (the test
`tests/deployments/test_iam_policies.py` fails when one does, or when one grants less).
"""

from __future__ import annotations

from tasks import lambda_engine, notify, s3_bridge, storage

# What ECS itself does for a task made from deployments/ecs/work-pool.json, on the execution
# role: pull the image from ECR, ship the container's output to the awslogs log group, and
# read the Prefect API key secret (`prefect_api_key_secret_arn`) into the container.
ECS_EXECUTION_ACTIONS: tuple[str, ...] = (
    "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchGetImage",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "secretsmanager:GetSecretValue",
)

# What the Lambda runtime does for the batch function: write its logs.
LAMBDA_RUNTIME_ACTIONS: tuple[str, ...] = ("logs:CreateLogStream", "logs:PutLogEvents")

POLICY_ACTIONS: dict[str, tuple[str, ...]] = {
    # the flow run (ECS task role, or any machine running `packshot process` / `listen`)
    "packshot-worker.json": (
        *storage.S3_ACTIONS,
        *storage.KMS_ACTIONS,
        *s3_bridge.SQS_ACTIONS,
        *notify.SQS_ACTIONS,
        *lambda_engine.LAMBDA_ACTIONS,
    ),
    # the batch function's execution role (deployments/lambda_batch.py)
    "packshot-lambda-batch.json": (
        *storage.S3_ACTIONS,
        *storage.KMS_ACTIONS,
        *LAMBDA_RUNTIME_ACTIONS,
    ),
    "packshot-ecs-execution.json": ECS_EXECUTION_ACTIONS,
}
