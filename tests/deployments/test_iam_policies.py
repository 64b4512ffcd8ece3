"""deployments/iam/*.json: valid policy documents granting exactly the actions the code calls."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from deployments.aws_actions import POLICY_ACTIONS

IAM = Path(__file__).resolve().parents[2] / "deployments" / "iam"
ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+$")  # service:Action, no wildcard
# The only actions AWS accepts on Resource "*" alone (they are not resource-scoped).
UNSCOPED = {"ecr:GetAuthorizationToken"}


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


def policy_problems(doc: dict, allowed: tuple[str, ...]) -> list[str]:
    """What is wrong with `doc` as a least-privilege policy for `allowed`; empty when nothing."""
    problems = []
    if doc.get("Version") != "2012-10-17":
        problems.append("Version must be 2012-10-17")
    statements = doc.get("Statement")
    if not isinstance(statements, list) or not statements:
        return [*problems, "Statement must be a non-empty list"]
    granted: set[str] = set()
    sids = [s.get("Sid") for s in statements]
    if len(set(sids)) != len(sids):
        problems.append("Sids must be unique")
    for statement in statements:
        sid = statement.get("Sid", "?")
        if statement.get("Effect") not in ("Allow", "Deny"):
            problems.append(f"{sid}: Effect must be Allow or Deny")
        if {"NotAction", "NotResource", "NotPrincipal"} & set(statement):
            problems.append(f"{sid}: Not* elements grant by exclusion")
        actions, resources = _as_list(statement.get("Action")), _as_list(statement.get("Resource"))
        if not actions or not all(isinstance(a, str) and ACTION.match(a) for a in actions):
            problems.append(f"{sid}: Action must name service:Action without wildcards")
        if not resources or not all(isinstance(r, str) and r for r in resources):
            problems.append(f"{sid}: Resource must be one or more strings")
        if "*" in resources and not set(actions) <= UNSCOPED:
            problems.append(f"{sid}: Resource * for scoped actions")
        if statement.get("Effect") == "Allow":
            granted |= {a for a in actions if isinstance(a, str)}
    problems += [f"grants {a}, which the code never calls" for a in sorted(granted - set(allowed))]
    problems += [f"misses {a}, which the code calls" for a in sorted(set(allowed) - granted)]
    return problems


def test_every_policy_document_is_checked() -> None:
    assert sorted(p.name for p in IAM.glob("*.json")) == sorted(POLICY_ACTIONS)


@pytest.mark.parametrize("name", sorted(POLICY_ACTIONS))
def test_policy_is_valid_and_grants_exactly_what_the_code_calls(name: str) -> None:
    doc = json.loads((IAM / name).read_text())
    assert policy_problems(doc, POLICY_ACTIONS[name]) == []


def test_the_check_catches_an_action_the_code_does_not_call() -> None:
    doc = json.loads((IAM / "packshot-worker.json").read_text())
    doc["Statement"][0]["Action"] = ["s3:ListBucket", "s3:DeleteBucket"]
    doc["Statement"].append({"Sid": "Wild", "Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    problems = policy_problems(doc, POLICY_ACTIONS["packshot-worker.json"])
    assert "grants s3:DeleteBucket, which the code never calls" in problems
    assert "Wild: Action must name service:Action without wildcards" in problems
    assert "Wild: Resource * for scoped actions" in problems


def test_worker_writes_only_under_the_destination_and_catalog_prefixes() -> None:
    doc = json.loads((IAM / "packshot-worker.json").read_text())
    writes = {"s3:PutObject", "s3:DeleteObject", "s3:PutObjectTagging"}
    for statement in doc["Statement"]:
        if writes & set(_as_list(statement["Action"])):
            for resource in _as_list(statement["Resource"]):
                assert resource.startswith(
                    ("arn:aws:s3:::DEST_BUCKET/DEST_PREFIX/", "arn:aws:s3:::CATALOG_BUCKET/")
                ), resource
        if "s3:DeleteObject" in _as_list(statement["Action"]):
            assert statement["Resource"].endswith("/_quarantine/*")  # only its own copies
