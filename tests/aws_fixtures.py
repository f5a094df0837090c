"""Builders for the SageMaker adapter tests: SageMaker-shaped responses and a Stubber client factory.

moto covers the lifecycle (create, describe, list, metrics, delete, IAM). botocore's Stubber, on the
adapter's injected client factory, covers what moto cannot: quotas, throttling, error paths and the
Creating -> InService / Failed sequences. Both check requests against botocore's service models.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
from botocore.stub import Stubber

from cloudrun.models import DeploySpec, Precision

REGION = "us-east-1"
ACCOUNT = "123456789012"
T0 = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/given"


def fake_credentials(monkeypatch: Any, tmp_path: Any, **extra: str) -> None:
    """Point boto3 at fake keys only: no shared config or credentials files, no instance metadata, no override."""
    values = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION,
              "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
              "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"), **extra}  # fmt: skip
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


def spec(name: str = "ds-67b", **changes: Any) -> DeploySpec:
    fields: dict[str, Any] = {
        "name": name,
        "model_id": "deepseek-ai/deepseek-llm-67b-chat",
        "provider": "aws",
        "service": "sagemaker",
        "region": REGION,
        "instance_type": "ml.g5.48xlarge",
        "gpu_count": 8,
        "tensor_parallel": 8,
        "context": 4096,
        "precision": Precision.bf16,
    }
    return DeploySpec(**{**fields, **changes})


def arn(kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{name}"


def endpoint_record(name: str = "ds-67b", status: str = "InService", reason: str | None = None) -> dict[str, Any]:
    """Return a describe_endpoint response as SageMaker shapes it."""
    record = {
        "EndpointName": name,
        "EndpointArn": arn("endpoint", name),
        "EndpointConfigName": name,
        "EndpointStatus": status,
        "CreationTime": T0,
        "LastModifiedTime": T0,
        "ProductionVariants": [{"VariantName": "main", "DesiredInstanceCount": 1}],
    }
    return {**record, "FailureReason": reason} if reason else record


def config_record(name: str = "ds-67b", instance_type: str = "ml.g5.48xlarge") -> dict[str, Any]:
    variant = {"VariantName": "main", "ModelName": name, "InstanceType": instance_type, "InitialInstanceCount": 1}
    return {
        "EndpointConfigName": name,
        "EndpointConfigArn": arn("endpoint-config", name),
        "ProductionVariants": [variant],
        "CreationTime": T0,
    }


def managed_tags(name: str = "ds-67b") -> dict[str, Any]:
    return {"Tags": [{"Key": "cloudrun-managed", "Value": "true"}, {"Key": "cloudrun-deployment", "Value": name}]}


def not_found(stub: Stubber, operation: str, what: str = "endpoint") -> None:
    """Queue SageMaker's answer for a missing resource: a ValidationException, not a 404."""
    stub.add_client_error(operation, "ValidationException", f'Could not find {what} "{arn(what, "ds-67b")}".')


class StubbedAws:
    """A client factory handing out real boto3 clients wrapped in Stubbers, one per (service, region)."""

    def __init__(self) -> None:
        self.stubbers: dict[tuple[str, str], Stubber] = {}

    def __call__(self, service: str, region: str) -> Any:
        return self.stub(service, region).client

    def stub(self, service: str, region: str = REGION) -> Stubber:
        if (service, region) not in self.stubbers:
            stubber = Stubber(boto3.client(service, region_name=region))
            stubber.activate()
            self.stubbers[service, region] = stubber
        return self.stubbers[service, region]

    def assert_all_used(self) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()


def put_invocations(endpoint: str, count: float, minutes_ago: int) -> None:
    at = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    dimensions = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": "main"}]
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[{"MetricName": "Invocations", "Dimensions": dimensions, "Value": count, "Timestamp": at}],
    )


def make_untagged_endpoint(name: str) -> None:
    """An endpoint someone made by hand: no cloudrun tags."""
    sm = boto3.client("sagemaker", region_name=REGION)
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE_ARN, PrimaryContainer={"Image": "img"})
    variant = {"VariantName": "v", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.g5.xlarge"}
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)


class EmptyBody:
    """The raw body of a faked HTTP response that has none."""

    def stream(self, **_):
        yield b""
