"""The SageMaker execution role (providers/aws_role.py): one given is used as is (no IAM call); cloudrun's own is
reused and kept to the current least-privilege policy, one not cloudrun's is left alone; a missing one is made, with
a notice; IAM's refusal says what to do; and a new role's propagation delay is waited out. IAM on moto; the refusal
and the propagation on botocore's Stubber."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from cloudrun.errors import AuthError
from cloudrun.providers.aws import SageMakerProvider
from cloudrun.providers.aws_role import ROLE_NAME
from tests.aws_fixtures import ACCOUNT, ROLE_ARN, StubbedAws, arn, fake_credentials, not_found, spec


@pytest.fixture
def moto_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    fake_credentials(monkeypatch, tmp_path)
    monkeypatch.delenv("CLOUDRUN_SAGEMAKER_ROLE_ARN", raising=False)
    with mock_aws():
        yield


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[StubbedAws]:
    """Stubber clients for an adapter; every queued answer must be used."""
    fake_credentials(monkeypatch, tmp_path)
    monkeypatch.delenv("CLOUDRUN_SAGEMAKER_ROLE_ARN", raising=False)
    stubs = StubbedAws()
    yield stubs
    stubs.assert_all_used()


def test_role_from_environment_needs_no_iam(moto_aws, monkeypatch):
    monkeypatch.setenv("CLOUDRUN_SAGEMAKER_ROLE_ARN", ROLE_ARN)
    assert SageMakerProvider().resolve_role() == ROLE_ARN
    assert boto3.client("iam").list_roles()["Roles"] == []


def test_existing_cloudrun_role_is_reused(moto_aws):
    iam = boto3.client("iam")
    existing = iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    provider = SageMakerProvider()
    assert provider.resolve_role() == existing and provider.notices == []
    assert iam.list_role_policies(RoleName=ROLE_NAME)["PolicyNames"] == []  # not ours (untagged): left alone


def test_cloudruns_own_role_gets_the_current_policy_when_reused(moto_aws):
    iam = boto3.client("iam")
    iam.create_role(
        RoleName=ROLE_NAME, AssumeRolePolicyDocument="{}", Tags=[{"Key": "cloudrun-managed", "Value": "true"}]
    )
    old = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}]}
    iam.put_role_policy(RoleName=ROLE_NAME, PolicyName=ROLE_NAME, PolicyDocument=json.dumps(old))
    SageMakerProvider().resolve_role()
    policy = iam.get_role_policy(RoleName=ROLE_NAME, PolicyName=ROLE_NAME)["PolicyDocument"]
    assert "EndpointMetrics" in {s.get("Sid") for s in policy["Statement"]}


def test_missing_role_is_created_with_least_privilege_and_a_notice(moto_aws):
    provider = SageMakerProvider()
    role_arn = provider.resolve_role()
    iam = boto3.client("iam")
    role = iam.get_role(RoleName=ROLE_NAME)["Role"]
    assert role["Arn"] == role_arn
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert iam.list_role_tags(RoleName=ROLE_NAME)["Tags"] == [{"Key": "cloudrun-managed", "Value": "true"}]
    policy = iam.get_role_policy(RoleName=ROLE_NAME, PolicyName=ROLE_NAME)["PolicyDocument"]
    statements = {s["Sid"]: s for s in policy["Statement"]}
    pulls = statements["PullServingImage"]["Resource"]
    assert "arn:aws:ecr:*:763104351884:repository/djl-inference" in pulls  # us-east-1 and 15 more regions
    assert "arn:aws:ecr:*:626614931356:repository/djl-inference" in pulls  # af-south-1 (djl-lmi.json)
    assert all(p.endswith(":repository/djl-inference") for p in pulls)
    assert statements["EndpointMetrics"]["Action"] == "cloudwatch:PutMetricData"  # AWS's list for a hosting role
    assert statements["EndpointLogs"]["Resource"] == "arn:aws:logs:*:*:log-group:/aws/sagemaker/*"
    assert provider.notices and f"created IAM role {ROLE_NAME} ({role_arn})" in provider.notices[0]


def test_iam_refusal_is_an_auth_error_with_what_to_do(fake):
    provider = SageMakerProvider(client_factory=fake)  # no role given: it must be looked up, then made
    iam = fake.stub("iam")
    iam.add_client_error("get_role", "NoSuchEntity", "The role with name cloudrun-sagemaker-execution cannot be found.")
    iam.add_client_error("create_role", "AccessDenied", "not authorized to perform: iam:CreateRole", 403)
    with pytest.raises(AuthError, match="no SageMaker execution role") as raised:
        provider.resolve_role()
    assert "--role ARN" in raised.value.hint and "CLOUDRUN_SAGEMAKER_ROLE_ARN" in raised.value.hint


def test_create_model_waits_for_a_new_role_to_propagate(fake):
    sleeps: list[float] = []
    provider = SageMakerProvider(client_factory=fake, role_arn=f"arn:aws:iam::{ACCOUNT}:role/r", sleep=sleeps.append)
    sm = fake.stub("sagemaker")
    not_found(sm, "describe_endpoint")
    sm.add_client_error("create_model", "ValidationException", f"Could not assume role {ROLE_ARN}.")
    sm.add_response("create_model", {"ModelArn": arn("model", "ds-67b")})
    sm.add_response("create_endpoint_config", {"EndpointConfigArn": arn("endpoint-config", "ds-67b")})
    sm.add_response("create_endpoint", {"EndpointArn": arn("endpoint", "ds-67b")})
    assert provider.create(spec()).endpoint_id == "ds-67b"
    assert sleeps == [3.0]
