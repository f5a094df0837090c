"""What the deploy tests share besides their fixtures (conftest.py): the model, the placements, a client factory
that records calls and injects what the cloud decides, and readers of what moto holds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
from moto.sagemaker.models import sagemaker_backends

from cloudrun import api
from cloudrun.deployer import WaitPolicy
from cloudrun.state import StateStore
from tests.aws_fixtures import ACCOUNT, REGION, ROLE_ARN

MODEL = "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"
NO_WAIT = WaitPolicy(first_s=0.0, max_s=0.0, sleep=lambda _s: None)
CAPACITY = "Unable to provision requested ML compute capacity due to InsufficientInstanceCapacity error."
# In us-east-1, the three cheapest types that fit the 7B model; the sandbox account has quota 0 for the g6 ones.
NO_QUOTA = ["ml.g6.xlarge", "ml.g6.2xlarge"]
FIRST_WITH_QUOTA, SECOND_WITH_QUOTA = "ml.g5.xlarge", "ml.g5.2xlarge"


class Calls:
    """A client factory of moto clients that records every operation and lets a test hook CreateEndpoint."""

    def __init__(self, after_create_endpoint: Callable[..., None] | None = None) -> None:
        self.operations: list[str] = []
        self.after_create_endpoint = after_create_endpoint

    def __call__(self, service: str, region: str) -> Any:
        client = boto3.client(service, region_name=region)
        client.meta.events.register("before-call", lambda model, **_: self.operations.append(model.name))
        if service == "sagemaker" and self.after_create_endpoint:
            client.meta.events.register("after-call.sagemaker.CreateEndpoint", self.after_create_endpoint)
        return client


def loader(factory: Calls | None = None) -> Callable[[str], Any]:
    options: dict[str, Any] = {"role_arn": ROLE_ARN, "sleep": lambda _s: None}
    return api.provider_loader({"aws": {**options, **({"client_factory": factory} if factory else {})}})


def prepare(name: str = "r1-qwen", **options: Any) -> api.DeployPlan:
    options.setdefault("cheapest", "instance_type" not in options)
    options.setdefault("region", REGION)
    return api.prepare_deploy(MODEL, provider="aws", name=name, hours=1, **options)


def fail_for_capacity(times: int = 1_000) -> Callable[..., None]:
    """Return a CreateEndpoint hook that makes the first `times` endpoints go Failed for lack of capacity."""
    failed: list[str] = []

    def hook(parsed: dict[str, Any], **_: Any) -> None:
        if len(failed) < times:
            _, _, _, region, _, resource = parsed["EndpointArn"].split(":", 5)
            endpoint = sagemaker_backends[ACCOUNT][region].endpoints[resource.split("/", 1)[1]]
            endpoint.endpoint_status, endpoint.failure_reason = "Failed", CAPACITY
            failed.append(region)

    return hook


def sagemaker(region: str = REGION) -> Any:
    return boto3.client("sagemaker", region_name=region)


def resources(region: str = REGION) -> dict[str, list[str]]:
    """Return the names of every model, endpoint config and endpoint in moto, per kind."""
    sm = sagemaker(region)
    return {
        "models": [m["ModelName"] for m in sm.list_models()["Models"]],
        "configs": [c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]],
        "endpoints": [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]],
    }


def kinds(store: StateStore, name: str) -> list[str]:
    return [event["kind"] for event in store.events(name)]


NOTHING = {"models": [], "configs": [], "endpoints": []}
