"""The contract every deploy adapter keeps, run unchanged against SageMaker, Vertex AI and Azure ML.

Each adapter is the real one (boto3, aiplatform_v1 over REST, azure-ai-ml's MLClient) pointed at the same
emulated cloud the sandbox uses: moto's server, the Vertex REST fake, the ARM fake over https. Every fake
is started once per module and emptied before each test.

What `invocations(ref, since)` returns against the fakes (the idle rule's input), each counting the calls it
answered the way its cloud reports them:
- aws: CloudWatch `Invocations` per variant, which the sandbox's moto publishes on every InvokeEndpoint.
- gcp: Cloud Monitoring's online prediction_count, built by the Vertex fake from the predictions it answered.
- azure: Azure Monitor's RequestsPerMinute (Average only), built by the ARM fake from the scoring calls.
During a metrics outage each returns None, and the idle rule keeps an endpoint whose count is None.
"""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import boto3
import pytest

from cloudrun import catalog
from cloudrun.errors import Conflict, NotFound
from cloudrun.models import (
    DEPLOYMENT_TAG,
    MANAGED_TAG,
    DeploymentStatus,
    DeploySpec,
    Endpoint,
    EndpointRef,
    EndpointState,
    Limits,
    Precision,
)
from cloudrun.provider import Provider
from cloudrun.sandbox import aws, azure_fake, vertex_fake
from cloudrun.sandbox.moto_lifecycle import emulate_startup
from cloudrun.teardown.idle import Candidate, find_idle

pytestmark = [pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]

MODEL = "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"
PLACEMENTS = {  # provider -> (region, instance type), each a row of the bundled catalog
    "aws": ("us-east-1", "ml.g5.xlarge"),
    "gcp": ("us-central1", "g2-standard-8"),
    "azure": ("eastus", "Standard_NC24ads_A100_v4"),
}
STARTUP_S = 0.2  # each fake keeps new endpoints starting this long, so `creating` is really seen
SECRET = "hf_secret_value"
ACCOUNT = "123456789012"
HOST_ENV = (
    "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL",
    "CLOUDRUN_SAGEMAKER_ROLE_ARN", "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT",
    "CLOUDRUN_VERTEX_API_ENDPOINT", "CLOUDRUN_AZURE_ARM_ENDPOINT", "CLOUDRUN_SANDBOX_CREDENTIALS",
    "AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_GROUP", "AZUREML_WORKSPACE_NAME", "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "CLOUDRUN_AZUREML_IMAGE", "REQUESTS_CA_BUNDLE",
)  # fmt: skip


@dataclass
class Cloud:
    """One adapter ready against its fake, with what the contract tests need to look behind it."""

    name: str
    adapter: Provider
    region: str
    make_spec: Callable[[str], DeploySpec]
    make_untagged: Callable[[str], EndpointRef]  # an endpoint made by hand in the fake, without cloudrun's marks
    exists: Callable[[EndpointRef], bool]  # whether the fake still holds the endpoint
    inventory: Callable[[], Any]  # a snapshot of every resource the fake holds
    outage: Callable[[pytest.MonkeyPatch], Provider]  # an adapter that finds the cloud's metrics service failing
    make_half: Callable[[str], None]  # what a deploy killed after its first create leaves: that resource, tagged


def catalog_spec(provider: str, name: str) -> DeploySpec:
    """Return a spec for the bundled catalog's offer at PLACEMENTS[provider]."""
    region, instance_type = PLACEMENTS[provider]
    (offer,) = [
        o for o in catalog.bundled() if (o.provider, o.region, o.instance_type) == (provider, *PLACEMENTS[provider])
    ]
    return DeploySpec(name=name, model_id=MODEL, provider=provider, service=offer.service, region=region,
                      instance_type=instance_type, gpu_count=offer.gpu_count, tensor_parallel=offer.gpu_count,
                      context=4096, precision=Precision.bf16)  # fmt: skip


# --- the fakes, once per module ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_server() -> Iterator[aws.AwsSandbox]:
    server = aws.start(startup_s=STARTUP_S)
    yield server
    server.stop()
    emulate_startup(0)  # the patch is process-wide: later tests expect moto's own instant endpoints


@pytest.fixture(scope="module")
def vertex_server() -> Iterator[vertex_fake.VertexSandbox]:
    server = vertex_fake.start(deploy_delay_s=STARTUP_S)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def azure_server() -> Iterator[azure_fake.AzureSandbox]:
    server = azure_fake.start(provision_delay_s=STARTUP_S)
    yield server
    server.stop()


# --- one Cloud per provider ----------------------------------------------------------------------------


def aws_cloud(server: aws.AwsSandbox, monkeypatch: pytest.MonkeyPatch) -> Cloud:
    from cloudrun.providers.aws import SageMakerProvider

    post(f"{server.url}/moto-api/reset")  # moto's backends live as long as the process
    aws.seed_chat_replies(server.url, MODEL, regions=(PLACEMENTS["aws"][0],), count=10)
    for name, value in aws.environment(server.url).items():
        monkeypatch.setenv(name, value)
    region = PLACEMENTS["aws"][0]
    sm = boto3.client("sagemaker", region_name=region)

    def make_untagged(name: str) -> EndpointRef:
        sm.create_model(ModelName=name, ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/mine",
                        PrimaryContainer={"Image": "img"})  # fmt: skip
        variant = {"VariantName": "v", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.g5.xlarge"}
        sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
        sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
        return EndpointRef(provider="aws", region=region, name=name, endpoint_id=name)

    def exists(ref: EndpointRef) -> bool:
        return ref.endpoint_id in {e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]}

    def inventory() -> Any:
        return (
            sorted(m["ModelName"] for m in sm.list_models()["Models"]),
            sorted(c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]),
            sorted(e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]),
        )

    def outage(patch: pytest.MonkeyPatch) -> Provider:
        patch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH", "http://127.0.0.1:1")  # CloudWatch unreachable
        return SageMakerProvider(sleep=lambda _: None, deadline_s=0)

    def make_half(name: str) -> None:
        tags = [{"Key": MANAGED_TAG, "Value": "true"}, {"Key": DEPLOYMENT_TAG, "Value": name}]
        sm.create_model(ModelName=name, ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/r",
                        PrimaryContainer={"Image": "img"}, Tags=tags)  # fmt: skip

    adapter = SageMakerProvider(sleep=lambda _: None, deadline_s=5)
    return Cloud("aws", adapter, region, lambda n: catalog_spec("aws", n), make_untagged, exists, inventory, outage,
                 make_half)  # fmt: skip


def gcp_cloud(server: vertex_fake.VertexSandbox, monkeypatch: pytest.MonkeyPatch) -> Cloud:
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import aiplatform_v1

    from cloudrun.providers.gcp import VertexProvider

    state = server.state
    with state.lock:
        for table in (
            state.models,
            state.endpoints,
            state.operations,
            state.pending,
            state.predictions,
            state.container_logs,
        ):
            table.clear()
        state.seen.clear()
        getattr(state, "prediction_log", []).clear()  # Cloud Monitoring's data, where the fake keeps it
        state.deploy_faults.clear()
        state.request_faults.clear()
    for name, value in vertex_fake.environment(server.url).items():
        monkeypatch.setenv(name, value)
    region = PLACEMENTS["gcp"][0]

    def make_untagged(name: str) -> EndpointRef:
        client = aiplatform_v1.EndpointServiceClient(
            transport="rest", credentials=AnonymousCredentials(), client_options=ClientOptions(api_endpoint=server.url)
        )
        started = client.create_endpoint(parent=f"projects/someone/locations/{region}",
                                         endpoint=aiplatform_v1.Endpoint(display_name=name))  # fmt: skip
        done = client.get_operation(request={"name": started.operation.name})
        endpoint_id = aiplatform_v1.Endpoint.deserialize(done.response.value).name
        return EndpointRef(provider="gcp", region=region, name=name, endpoint_id=endpoint_id)

    def exists(ref: EndpointRef) -> bool:
        with state.lock:
            return ref.endpoint_id in state.endpoints

    def make_half(name: str) -> None:
        client = aiplatform_v1.ModelServiceClient(
            transport="rest", credentials=AnonymousCredentials(), client_options=ClientOptions(api_endpoint=server.url)
        )
        model = {"display_name": name, "labels": {MANAGED_TAG: "true", DEPLOYMENT_TAG: name},
                 "container_spec": {"image_uri": "example/serve:1"}}  # fmt: skip
        started = client.upload_model(parent=f"projects/{vertex_fake.SANDBOX_PROJECT}/locations/{region}", model=model)
        client.get_operation(request={"name": started.operation.name})

    def inventory() -> Any:
        with state.lock:
            return sorted(state.models), sorted(state.endpoints)

    def outage(_patch: pytest.MonkeyPatch) -> Provider:
        for _ in range(3):  # longer than the retry deadline (0 here: one attempt)
            server.fail_next_request("timeSeries", "UNAVAILABLE", "The service is currently unavailable.")
        return VertexProvider(sleep=lambda _: None, deadline_s=0)

    adapter = VertexProvider(sleep=lambda _: None, deadline_s=5)
    return Cloud("gcp", adapter, region, lambda n: catalog_spec("gcp", n), make_untagged, exists, inventory, outage,
                 make_half)  # fmt: skip


def azure_cloud(server: azure_fake.AzureSandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Cloud:
    from cloudrun.providers.azure import AzureMLProvider

    arm = server.arm
    with arm._lock:  # the fake's own lock: its server threads may be serving a late poll
        for table in (arm.endpoints, arm.deployments, arm.environments, arm.operations, arm.keys, arm.invocations):
            table.clear()
        arm.requests.clear()
        arm.faults.metrics.clear()
    monkeypatch.chdir(tmp_path)  # no Azure ML config.json from the developer's folder
    monkeypatch.setenv("AZUREML_CURRENT_CLOUD", "AzureCloud")  # MLClient sets it process-wide; restored after
    for name, value in azure_fake.environment(server).items():
        monkeypatch.setenv(name, value)
    region = PLACEMENTS["azure"][0]

    def make_untagged(name: str) -> EndpointRef:
        arm.add_endpoint(name, tags={"team": "research"})
        return EndpointRef(provider="azure", region=region, name=name, endpoint_id=name)

    def exists(ref: EndpointRef) -> bool:
        return ref.endpoint_id in arm.endpoints

    def inventory() -> Any:
        return sorted(arm.endpoints), sorted(arm.deployments)

    def outage(_patch: pytest.MonkeyPatch) -> Provider:
        for _ in range(3):
            arm.faults.metrics.append((503, {"error": {"code": "ServiceUnavailable", "message": "try later"}}))
        return AzureMLProvider(sleep=lambda _: None, deadline_s=0)

    def make_half(name: str) -> None:
        arm.add_endpoint(name, tags={MANAGED_TAG: "true", DEPLOYMENT_TAG: name})

    adapter = AzureMLProvider(sleep=lambda _: None, deadline_s=5)
    return Cloud("azure", adapter, region, lambda n: catalog_spec("azure", n), make_untagged, exists, inventory,
                 outage, make_half)  # fmt: skip


@pytest.fixture(params=["aws", "gcp", "azure"])
def cloud(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Cloud:
    for name in HOST_ENV:
        monkeypatch.delenv(name, raising=False)
    if request.param == "aws":
        return aws_cloud(request.getfixturevalue("moto_server"), monkeypatch)
    if request.param == "gcp":
        return gcp_cloud(request.getfixturevalue("vertex_server"), monkeypatch)
    return azure_cloud(request.getfixturevalue("azure_server"), monkeypatch, tmp_path)


# --- helpers -----------------------------------------------------------------------------------------------


def post(url: str) -> None:
    with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=10):
        pass


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def wait_for(adapter: Provider, ref: EndpointRef, state: EndpointState, deadline_s: float = 10.0) -> list[str]:
    """Return the states seen while polling describe() until `state`; fail on `failed` or after the deadline."""
    seen: list[str] = []
    deadline = time.monotonic() + deadline_s
    while True:
        endpoint = adapter.describe(ref)
        seen.append(endpoint.state.value)
        if endpoint.state is state:
            return seen
        assert endpoint.state is not EndpointState.failed, f"failed: {endpoint.failure_reason}"
        assert time.monotonic() < deadline, f"never {state.value}: {seen}"
        time.sleep(0.05)


def wait_gone(adapter: Provider, ref: EndpointRef, deadline_s: float = 10.0) -> None:
    """Return once describe() raises NotFound; until then the endpoint may only be deleting."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            endpoint = adapter.describe(ref)
        except NotFound:
            return
        assert endpoint.state is EndpointState.deleting, f"still {endpoint.state.value} after delete"
        assert time.monotonic() < deadline, "still there after delete"
        time.sleep(0.05)


def idle_decision(name: str, count: int | None) -> bool:
    """Return whether the idle rule deletes an endpoint in service for 2 h that served `count` calls in 30 min."""
    now = datetime.now(timezone.utc)
    candidate = Candidate(name=name, provider="p", region="r", status=DeploymentStatus.in_service,
                          since=now - timedelta(hours=2), created_at=now - timedelta(hours=2),
                          price_per_hour_usd=Decimal(1), cost_so_far_usd=Decimal(2), limits=Limits())  # fmt: skip
    (decision,) = find_idle([candidate], {name: count}, now, timedelta(minutes=30))
    return decision.delete


def listed(endpoints: list[Endpoint], ref: EndpointRef) -> list[Endpoint]:
    return [e for e in endpoints if e.ref.endpoint_id == ref.endpoint_id]


# --- the contract ------------------------------------------------------------------------------------------


def test_lifecycle(cloud: Cloud):
    adapter, name = cloud.adapter, unique("ct")
    untagged = cloud.make_untagged(unique("handmade"))
    since = datetime.now(timezone.utc) - timedelta(hours=1)

    ref = adapter.create(cloud.make_spec(name))

    assert (ref.provider, ref.region, ref.name) == (cloud.name, cloud.region, name)
    seen = wait_for(adapter, ref, EndpointState.in_service)
    assert seen[0] == "creating" and set(seen) <= {"creating", "updating", "in_service"}, seen
    endpoint = adapter.describe(ref)
    assert endpoint.tags[MANAGED_TAG] == "true" and endpoint.tags[DEPLOYMENT_TAG] == name
    assert endpoint.instance_type == PLACEMENTS[cloud.name][1]

    found = adapter.list_managed([cloud.region])
    (mine,) = listed(found, ref)
    assert (mine.ref.name, mine.state) == (name, EndpointState.in_service)
    assert listed(found, untagged) == []
    assert all(e.tags.get(MANAGED_TAG) == "true" for e in found)

    reply = adapter.invoke(ref, {"messages": [{"role": "user", "content": "hello"}], "max_tokens": 8})
    assert isinstance(reply, dict) and reply["choices"][0]["message"]["content"]

    count = adapter.invocations(ref, since)
    assert isinstance(count, int) and count >= 1, count  # the call above was counted, as the cloud counts it
    assert not idle_decision(name, count)

    removal = adapter.delete(ref)
    assert removal.removed and all(isinstance(part, str) for part in removal.removed)
    wait_gone(adapter, ref)
    again = adapter.delete(ref)  # gone is done, and says so
    assert again.removed == () and again.not_found
    assert listed(adapter.list_managed([cloud.region]), ref) == []
    assert cloud.exists(untagged)


def test_a_half_made_set_is_found_by_its_tag_and_removed(cloud: Cloud):
    before = cloud.inventory()
    name = unique("half")
    cloud.make_half(name)

    (found,) = [e for e in cloud.adapter.list_managed([cloud.region]) if e.ref.name == name]

    assert found.incomplete and found.state is EndpointState.failed and found.untagged == ()
    assert found.tags[MANAGED_TAG] == "true" and found.tags[DEPLOYMENT_TAG] == name
    removal = cloud.adapter.delete(found.ref)
    assert len(removal.removed) == 1, removal  # the one resource the killed deploy had made
    deadline = time.monotonic() + 10
    while cloud.inventory() != before:  # Azure deletes asynchronously
        assert time.monotonic() < deadline, cloud.inventory()
        time.sleep(0.05)
    assert [e for e in cloud.adapter.list_managed([cloud.region]) if e.ref.name == name] == []


def test_a_metrics_outage_is_unknown_and_the_endpoint_kept(cloud: Cloud, monkeypatch):
    ref = cloud.adapter.create(cloud.make_spec(unique("ct")))
    wait_for(cloud.adapter, ref, EndpointState.in_service)
    since = datetime.now(timezone.utc) - timedelta(hours=1)
    adapter = cloud.outage(monkeypatch)  # the same cloud, its metrics service unreachable or failing

    count = adapter.invocations(ref, since)

    assert count is None and not idle_decision(ref.name, count)
    cloud.adapter.delete(ref)


def test_an_untagged_endpoint_is_never_listed_and_never_deleted(cloud: Cloud):
    untagged = cloud.make_untagged(unique("handmade"))
    before = cloud.inventory()

    assert listed(cloud.adapter.list_managed([cloud.region]), untagged) == []
    with pytest.raises(Conflict):
        cloud.adapter.delete(untagged)

    assert cloud.exists(untagged) and cloud.inventory() == before


def test_a_second_endpoint_with_the_same_name_is_refused_and_creates_nothing(cloud: Cloud):
    name = unique("ct")
    ref = cloud.adapter.create(cloud.make_spec(name))
    before = cloud.inventory()

    with pytest.raises(Conflict):
        cloud.adapter.create(cloud.make_spec(name))

    assert cloud.inventory() == before
    assert cloud.exists(ref)


def test_check_finds_working_credentials(cloud: Cloud):
    result = cloud.adapter.check()
    assert result.credentials_ok, result
    assert result.provider == cloud.name and result.sdk_installed


def test_render_requests_sends_nothing_and_never_shows_the_token(cloud: Cloud, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", SECRET)
    before = cloud.inventory()

    rendered = cloud.adapter.render_requests(cloud.make_spec(unique("ct")))

    assert rendered and all(isinstance(op, str) and isinstance(params, dict) for op, params in rendered)
    assert SECRET not in json.dumps(rendered, default=str)
    assert cloud.inventory() == before
