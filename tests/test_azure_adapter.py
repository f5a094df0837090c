"""The Azure ML adapter through the real MLClient against the fake ARM API (https on loopback), and
`responses` for narrow error paths recorded from ARM's error payloads."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import responses

from cloudrun.errors import (
    AuthError,
    CapacityUnavailable,
    CloudrunError,
    Conflict,
    InvalidInput,
    NotFound,
    QuotaExceeded,
    RateLimited,
    Transient,
)
from cloudrun.models import DeploySpec, Endpoint, EndpointRef, EndpointState, Precision
from cloudrun.providers import azure_quota, azure_template
from cloudrun.providers.azure import AzureMLProvider
from cloudrun.providers.azure_client import ArmRestError
from cloudrun.providers.azure_client import translate as _translate
from cloudrun.sandbox import azure_fake
from cloudrun.sandbox.azure_fake_arm import CANNED_REPLY

REGION = "eastus"


def spec(name: str = "ds-32b", **changes: Any) -> DeploySpec:
    fields: dict[str, Any] = {
        "name": name,
        "model_id": "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B",
        "provider": "azure",
        "service": "azureml",
        "region": REGION,
        "instance_type": "Standard_NC24ads_A100_v4",
        "gpu_count": 1,
        "tensor_parallel": 1,
        "context": 8192,
        "precision": Precision.bf16,
    }
    return DeploySpec(**{**fields, **changes})


@pytest.fixture
def azure_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """No Azure identity from the host; MLClient's process-wide cloud choice is restored after the test."""
    monkeypatch.chdir(tmp_path)  # no config.json from the developer's folder
    for name in (
        "AZURE_SUBSCRIPTION_ID",
        "AZURE_RESOURCE_GROUP",
        "AZUREML_WORKSPACE_NAME",
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_SECRET",
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
        "CLOUDRUN_AZURE_ARM_ENDPOINT",
        "CLOUDRUN_SANDBOX_CREDENTIALS",
        "CLOUDRUN_AZUREML_IMAGE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZUREML_CURRENT_CLOUD", "AzureCloud")  # MLClient overwrites it; monkeypatch restores it


@pytest.fixture
def sandbox(azure_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[azure_fake.AzureSandbox]:
    fake = azure_fake.start(provision_delay_s=0.3)
    for name, value in azure_fake.environment(fake).items():
        monkeypatch.setenv(name, value)
    yield fake
    fake.stop()


def provider() -> AzureMLProvider:
    return AzureMLProvider(sleep=lambda _: None, deadline_s=5)


def wait_until(adapter: AzureMLProvider, ref: EndpointRef, *states: EndpointState) -> tuple[Endpoint, list[str]]:
    seen: list[str] = []
    for _ in range(100):
        endpoint = adapter.describe(ref)
        seen.append(endpoint.state.value)
        if endpoint.state in states:
            return endpoint, seen
        time.sleep(0.05)
    raise AssertionError(f"never reached {states}: {seen}")


# --- lifecycle through the real MLClient --------------------------------------------------------------


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_lifecycle_create_describe_invoke_list_delete(sandbox, monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    adapter = provider()
    ref = adapter.create(spec())
    assert capsys.readouterr().out == ""  # the SDK's poll dots never reach stdout (--json stays clean)
    assert (ref.endpoint_id, ref.region, ref.resources) == (
        "ds-32b",
        REGION,
        {"deployment": "main", "workspace": azure_fake.WORKSPACE},
    )
    arm = sandbox.arm
    tags = {"cloudrun-managed": "true", "cloudrun-deployment": "ds-32b"}
    assert arm.endpoints["ds-32b"]["tags"] == tags and arm.deployments["ds-32b", "main"]["tags"] == tags
    assert arm.endpoints["ds-32b"]["properties"]["authMode"].lower() == "key"
    deployment = arm.deployments["ds-32b", "main"]["properties"]
    assert deployment["instanceType"] == "Standard_NC24ads_A100_v4"
    assert deployment["environmentVariables"] == {
        "VLLM_MODEL": "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B",
        "VLLM_ARGS": "--tensor-parallel-size 1 --max-model-len 8192 --gpu-memory-utilization 0.9 --host 0.0.0.0 "
        "--port 8000 --dtype bfloat16",
        "HF_TOKEN": "hf_secret",
    }
    assert deployment["requestSettings"]["requestTimeout"] == "PT3M"
    assert deployment["requestSettings"]["maxConcurrentRequestsPerInstance"] == 32
    assert deployment["readinessProbe"]["initialDelay"] == "PT1M"  # starts within a minute
    assert deployment["livenessProbe"]["initialDelay"] == "PT10M"  # never restarts a container still loading
    environment = next(iter(arm.environments.values()))["properties"]
    assert environment["image"] == azure_fake.SANDBOX_IMAGE  # the wrapper, named by $CLOUDRUN_AZUREML_IMAGE
    assert environment["inferenceConfig"]["scoringRoute"] == {"port": 8000, "path": "/v1/chat/completions"}

    endpoint, seen = wait_until(adapter, ref, EndpointState.in_service)
    assert seen[0] == "creating" and capsys.readouterr().out == ""
    assert arm.endpoints["ds-32b"]["properties"]["traffic"] == {"main": 100}
    assert endpoint.url == f"{sandbox.url}/score/ds-32b/v1/chat/completions"  # the URI the API returned
    assert (endpoint.instance_type, endpoint.instance_count, endpoint.tags) == ("Standard_NC24ads_A100_v4", 1, tags)

    reply = adapter.invoke(ref, {"messages": [{"role": "user", "content": "Hi"}]})
    assert reply["choices"][0]["message"]["content"] == CANNED_REPLY
    assert adapter.invocations(ref, datetime.now(timezone.utc) - timedelta(hours=1)) == 1
    assert [e.ref.name for e in adapter.list_managed([REGION])] == ["ds-32b"]
    assert adapter.list_managed(["westeurope"]) == []

    adapter.delete(ref)
    adapter.delete(ref)  # idempotent while Deleting
    time.sleep(0.4)
    with pytest.raises(NotFound):
        adapter.describe(ref)
    adapter.delete(ref)  # and once gone
    assert arm.endpoints == {} and arm.deployments == {}


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_untagged_endpoint_is_never_listed_and_never_deleted(sandbox):
    sandbox.arm.add_endpoint("handmade", tags={"team": "research"})
    adapter = provider()
    assert adapter.list_managed([REGION]) == []
    with pytest.raises(Conflict, match="handmade is not managed by cloudrun"):
        adapter.delete(EndpointRef(provider="azure", region=REGION, name="handmade", endpoint_id="handmade"))
    with pytest.raises(Conflict, match="already exists"):
        adapter.create(spec("handmade"))  # PUT is an upsert on ARM: the adapter checks first
    assert sandbox.arm.endpoints["handmade"]["tags"] == {"team": "research"}
    assert not any(method in ("PUT", "DELETE") for method, _ in sandbox.arm.requests)


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_readiness_failure_reports_the_log_tail_and_rollback_deletes_the_endpoint(sandbox):
    sandbox.arm.faults.readiness_logs.append("Loading weights\ntorch.OutOfMemoryError: CUDA out of memory")
    adapter = provider()
    ref = adapter.create(spec())
    endpoint, _ = wait_until(adapter, ref, EndpointState.failed)
    assert "CUDA out of memory" in endpoint.failure_reason and "last log lines" in endpoint.failure_reason
    error = adapter.failure_error(endpoint)
    assert type(error) is CloudrunError and "az ml online-deployment get-logs" in error.hint
    adapter.delete(ref)  # what the deployer does on a failed endpoint
    time.sleep(0.4)
    assert sandbox.arm.endpoints == {} and sandbox.arm.deployments == {}


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_quota_refusal_of_the_deployment_rolls_back_the_endpoint(sandbox):
    sandbox.arm.faults.deployment_errors.append(
        (
            400,
            "BadRequest",
            "Not enough quota available for Standard_NC24ads_A100_v4 in SubscriptionId x. "
            "Current usage/limit: 0/0. Additional needed: 24",
        )
    )
    with pytest.raises(QuotaExceeded, match="Not enough quota"):
        provider().create(spec())
    time.sleep(0.4)
    assert sandbox.arm.endpoints == {}


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_throttling_is_retried_by_our_layer_once_per_attempt(sandbox):
    sandbox.arm.faults.throttles.extend([0.0, 0.0])
    sleeps: list[float] = []
    adapter = AzureMLProvider(sleep=sleeps.append)
    assert adapter.check().credentials_ok
    # Two 429s, then the workspace: three requests in all, so azure-core's own RetryPolicy sent each once.
    assert [m for m, _ in sandbox.arm.requests] == ["GET", "GET", "GET"] and len(sleeps) == 2


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_quota_reads_the_family_usage_with_the_20_percent_reserve(sandbox):
    adapter = provider()
    sandbox.arm.usages["Standard NCASv3_T4 Family Cluster Dedicated vCPUs"] = (16, 64)  # 48 free vCPUs
    assert adapter.quota("Standard_NC24ads_A100_v4", REGION) == 4  # 96 vCPUs, exempt from the reserve
    assert adapter.quota("Standard_NC8as_T4_v3", REGION) == 5  # 48 / (8 * 1.2)
    assert adapter.quota("Standard_NC40ads_H100_v5", REGION) == 0
    assert adapter.quota("Standard_Unknown_v9", REGION) is None


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_a_region_other_than_the_workspace_is_a_placement_to_skip(sandbox):
    with pytest.raises(CapacityUnavailable, match="is in eastus"):
        provider().create(spec(region="westus2"))
    assert sandbox.arm.endpoints == {}


def test_names_breaking_azure_rules_are_refused_before_any_request(azure_env, monkeypatch):
    # No socket is allowed here: any request would fail with pytest-socket's error, not InvalidInput.
    monkeypatch.setenv("CLOUDRUN_AZURE_ARM_ENDPOINT", "https://127.0.0.1:9")
    monkeypatch.setenv("CLOUDRUN_SANDBOX_CREDENTIALS", "1")
    monkeypatch.setenv("CLOUDRUN_AZUREML_IMAGE", azure_fake.SANDBOX_IMAGE)
    adapter = AzureMLProvider(subscription_id=SUB, resource_group=RG, workspace=WS)
    for name in ("ab", "a" * 33, "ends-with-", "9starts-with-digit", "Upper-case"):
        with pytest.raises(InvalidInput, match="cannot name an Azure ML online endpoint"):
            adapter.create(spec(name))


def test_sandbox_credentials_are_refused_for_an_endpoint_off_this_machine(azure_env, monkeypatch):
    monkeypatch.setenv("CLOUDRUN_SANDBOX_CREDENTIALS", "1")
    monkeypatch.setenv("CLOUDRUN_AZURE_ARM_ENDPOINT", "https://management.azure.com")
    with pytest.raises(InvalidInput, match="only accepted with a loopback"):
        AzureMLProvider()
    monkeypatch.delenv("CLOUDRUN_AZURE_ARM_ENDPOINT")
    with pytest.raises(InvalidInput, match="got none"):
        AzureMLProvider()


def test_no_workspace_and_no_credentials_says_what_to_run(azure_env):
    result = AzureMLProvider(deadline_s=1).check()
    assert not result.credentials_ok and "az login" in result.hint and "--workspace" in result.hint


def test_render_requests_redacts_the_token(azure_env, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    rendered = AzureMLProvider().render_requests(spec("ds-v3", model_id="deepseek-ai/DeepSeek-V3"))
    assert "hf_secret" not in json.dumps(rendered)
    operations = [operation for operation, _ in rendered]
    assert operations == [
        "online_endpoints.begin_create_or_update",
        "online_deployments.begin_create_or_update",
        "online_endpoints.begin_create_or_update",
    ]
    variables = rendered[1][1]["environment_variables"]
    assert variables["HF_TOKEN"] == azure_template.REDACTED_TOKEN and "--trust-remote-code" in variables["VLLM_ARGS"]
    assert rendered[2][1] == {"name": "ds-v3", "traffic": {"main": 100}}


@pytest.mark.parametrize(
    "row, instance_type",
    [
        ("Standard NCASv3_T4 Family", "Standard_NC8as_T4_v3"),  # the spellings the first cut did not match
        ("Standard NDASv4_A100 Family", "Standard_ND96asr_v4"),
        ("standard NDAMSv4_A100Family", "Standard_ND96amsr_A100_v4"),
        ("standardNDv5H100Family", "Standard_ND96isr_H100_v5"),
        ("standardNDSH100v5Family", "Standard_ND96isr_H100_v5"),  # how Compute spells ND H100 v5
        ("Standard NCADSA100v4 Family Cluster Dedicated vCPUs", "Standard_NC24ads_A100_v4"),  # the usages API's form
        ("standardncadsh100v5family", "Standard_NC40ads_H100_v5"),
    ],
)
def test_quota_family_names_match_with_spaces_and_case_ignored(row, instance_type):
    usage = azure_quota.Usage(name=row, current=0, limit=192, type="Microsoft.MachineLearningServices/vmFamily/usages")
    assert azure_quota.instances_allowed(instance_type, [usage]) is not None
    workspace_row = azure_quota.Usage(name=row, current=0, limit=-1,
                                      type="Microsoft.MachineLearningServices/workspaces/usages")  # fmt: skip
    assert azure_quota.instances_allowed(instance_type, [workspace_row]) is None  # not the subscription's quota


def test_quota_table_agrees_with_the_bundled_offers():
    from cloudrun import catalog

    for offer in catalog.bundled():
        if offer.provider == "azure" and offer.instance_type in azure_quota.INSTANCE_TYPES:
            assert azure_quota.INSTANCE_TYPES[offer.instance_type][1] == offer.vcpus, offer.instance_type


# --- error mapping from recorded ARM payloads (responses, no server) ------------------------------------

SUB, RG, WS = "sub1", "rg1", "ws1"
ARM = (
    f"https://management.azure.com/subscriptions/{SUB}/resourceGroups/{RG}/providers/"
    f"Microsoft.MachineLearningServices/workspaces/{WS}"
)


class FakeCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken("token", int(time.time()) + 3600)


@pytest.mark.parametrize(
    ("status", "code", "message", "headers", "expected"),
    [
        (429, "TooManyRequests", "Rate limit exceeded.", {"Retry-After": "7"}, RateLimited),
        (409, "Conflict", "Another operation is in progress.", {}, Conflict),
        (404, "ResourceNotFound", "The online endpoint 'x' could not be found.", {}, NotFound),
        (401, "InvalidAuthenticationToken", "The access token is invalid.", {}, AuthError),
        (403, "AuthorizationFailed", "The client does not have authorization to perform action.", {}, AuthError),
        (400, "OperationNotAllowed", "Operation results in exceeding quota limits of Core.", {}, QuotaExceeded),
        (400, "BadRequest", "Not enough quota available for Standard_NC24ads_A100_v4.", {}, QuotaExceeded),
        (
            400,
            "SkuNotAvailable",
            "The requested VM size is not available in location 'eastus'.",
            {},
            CapacityUnavailable,
        ),
        (400, "BadArgument", "Not enough capacity for Standard_ND96isr_H100_v5 in eastus.", {}, CapacityUnavailable),
        (503, "ServiceUnavailable", "The service is unavailable.", {}, Transient),
        (500, "InternalServerError", "Something went wrong.", {}, Transient),
        (400, "BadArgument", "Endpoint name is invalid.", {}, InvalidInput),
    ],
)
def test_arm_errors_map_to_cloudrun_errors(azure_env, status, code, message, headers, expected):
    adapter = AzureMLProvider(
        subscription_id=SUB,
        resource_group=RG,
        workspace=WS,
        credential=FakeCredential(),
        sleep=lambda _: None,
        deadline_s=0.01,
    )
    body = {"error": {"code": code, "message": message}}
    with responses.RequestsMock() as mocked:
        mocked.add(responses.GET, f"{ARM}/onlineEndpoints/x", json=body, status=status, headers=headers)
        with pytest.raises(expected) as raised:
            adapter.describe(EndpointRef(provider="azure", region=REGION, name="x", endpoint_id="x"))
        assert len(mocked.calls) >= 1
    if expected is RateLimited:
        assert raised.value.retry_after == 7.0
    if expected is AuthError:
        assert "az login" in raised.value.hint


def test_rest_errors_and_failure_reasons_share_the_table():
    assert isinstance(_translate(ArmRestError(429, "TooManyRequests", "slow down", "3")), RateLimited)
    ref = EndpointRef(provider="azure", region=REGION, name="e", endpoint_id="e")
    failed = Endpoint(ref=ref, state=EndpointState.failed, failure_reason="OutOfCapacity: no capacity for this SKU")
    assert isinstance(provider_without_env().failure_error(failed), CapacityUnavailable)
    quota = Endpoint(ref=ref, state=EndpointState.failed, failure_reason="OutOfQuota: quota exceeded for family")
    assert isinstance(provider_without_env().failure_error(quota), QuotaExceeded)


def provider_without_env() -> AzureMLProvider:
    return AzureMLProvider(subscription_id=SUB, resource_group=RG, workspace=WS, credential=FakeCredential())
