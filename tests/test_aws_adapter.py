"""The SageMaker adapter against moto (lifecycle, IAM, metrics) and botocore's Stubber (what moto lacks)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from moto import mock_aws
from moto.server import ThreadedMotoServer

from cloudrun.errors import CapacityUnavailable, CloudrunError, Conflict, InvalidInput, QuotaExceeded
from cloudrun.models import Endpoint, EndpointRef, EndpointState, Precision
from cloudrun.providers.aws import SageMakerProvider
from cloudrun.providers.aws_client import CREDENTIALS_HINT, default_client_factory
from cloudrun.providers.aws_role import ROLE_NAME
from cloudrun.sandbox.moto_types import widen_instance_types
from tests.aws_fixtures import (
    ACCOUNT,
    REGION,
    ROLE_ARN,
    EmptyBody,
    StubbedAws,
    arn,
    config_record,
    endpoint_record,
    make_untagged_endpoint,
    managed_tags,
    not_found,
    put_invocations,
    spec,
)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials only; no shared config, no instance metadata, no tokens or role from the host."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("CLOUDRUN_SAGEMAKER_ROLE_ARN", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def moto_aws(aws_env: None) -> Iterator[None]:
    widen_instance_types()
    with mock_aws():
        yield


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def stubbed(aws_env: None, sleeps: list[float]) -> Iterator[tuple[SageMakerProvider, StubbedAws]]:
    """An adapter on Stubber clients, with a given role (no IAM calls) and a recording no-op sleep."""
    fake = StubbedAws()
    provider = SageMakerProvider(client_factory=fake, role_arn=f"arn:aws:iam::{ACCOUNT}:role/r", sleep=sleeps.append)
    yield provider, fake
    fake.assert_all_used()


def ref(name: str = "ds-67b") -> EndpointRef:
    return EndpointRef(provider="aws", region=REGION, name=name, endpoint_id=name)


# --- lifecycle on moto ---------------------------------------------------------------------------------


def test_lifecycle_create_describe_list_metrics_delete(moto_aws, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    provider = SageMakerProvider(role_arn=ROLE_ARN, sleep=lambda _: None)
    created = provider.create(spec())
    assert created.resources == {"model": "ds-67b", "endpoint_config": "ds-67b"}

    sm = boto3.client("sagemaker", region_name=REGION)
    container = sm.describe_model(ModelName="ds-67b")["PrimaryContainer"]
    assert container["Image"].startswith(f"763104351884.dkr.ecr.{REGION}.amazonaws.com/djl-inference:")
    env = container["Environment"]
    assert env["HF_MODEL_ID"] == "deepseek-ai/deepseek-llm-67b-chat"
    assert (env["TENSOR_PARALLEL_DEGREE"], env["OPTION_MAX_MODEL_LEN"], env["OPTION_DTYPE"]) == ("8", "4096", "bf16")
    assert env["HF_TOKEN"] == "hf_secret" and "OPTION_TRUST_REMOTE_CODE" not in env
    variant = sm.describe_endpoint_config(EndpointConfigName="ds-67b")["ProductionVariants"][0]
    assert variant["ContainerStartupHealthCheckTimeoutInSeconds"] == 3600
    for kind in ("model", "endpoint-config", "endpoint"):
        tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn(kind, "ds-67b"))["Tags"]}
        assert tags == {"cloudrun-managed": "true", "cloudrun-deployment": "ds-67b"}

    endpoint = provider.describe(created)
    assert (endpoint.state, endpoint.instance_type, endpoint.instance_count) == ("in_service", "ml.g5.48xlarge", 1)
    assert endpoint.url == f"https://runtime.sagemaker.{REGION}.amazonaws.com/endpoints/ds-67b/invocations"
    assert [e.ref.name for e in provider.list_managed([REGION, "eu-west-1"])] == ["ds-67b"]

    since = datetime.now(timezone.utc) - timedelta(hours=1)
    put_invocations("ds-67b", 7, minutes_ago=5)
    put_invocations("ds-67b", 3, minutes_ago=30)
    put_invocations("ds-67b", 100, minutes_ago=120)  # before `since`
    assert provider.invocations(created, since) == 10

    provider.delete(created)
    provider.delete(created)  # idempotent
    left = sm.list_endpoints()["Endpoints"] + sm.list_endpoint_configs()["EndpointConfigs"] + sm.list_models()["Models"]
    assert left == []


def test_untagged_endpoint_is_never_listed_and_never_deleted(moto_aws):
    make_untagged_endpoint("handmade")
    provider = SageMakerProvider(role_arn=ROLE_ARN)
    provider.create(spec("ours"))
    assert [e.ref.name for e in provider.list_managed([REGION])] == ["ours"]
    with pytest.raises(Conflict, match="endpoint handmade, endpoint config handmade, model handmade are not managed"):
        provider.delete(ref("handmade"))
    sm = boto3.client("sagemaker", region_name=REGION)
    assert sm.describe_endpoint(EndpointName="handmade")["EndpointStatus"] == "InService"
    assert sm.describe_model(ModelName="handmade")["ModelName"] == "handmade"


def test_duplicate_name_is_a_conflict_and_creates_nothing(moto_aws):
    make_untagged_endpoint("taken")
    sm = boto3.client("sagemaker", region_name=REGION)
    sm.delete_endpoint_config(EndpointConfigName="taken")
    sm.delete_model(ModelName="taken")
    with pytest.raises(Conflict, match="already exists"):
        SageMakerProvider(role_arn=ROLE_ARN).create(spec("taken"))
    assert sm.list_models()["Models"] == [] and sm.list_endpoint_configs()["EndpointConfigs"] == []


def test_widening_moto_is_idempotent_and_still_refuses_unknown_types(moto_aws):
    widen_instance_types()
    sm = boto3.client("sagemaker", region_name=REGION)
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE_ARN, PrimaryContainer={"Image": "img"})
    for instance_type in ("ml.g6e.12xlarge", "ml.p5.48xlarge", "ml.g4dn.xlarge"):
        variant = {"VariantName": "v", "ModelName": "m", "InitialInstanceCount": 1, "InstanceType": instance_type}
        sm.create_endpoint_config(EndpointConfigName=instance_type.replace(".", "-"), ProductionVariants=[variant])
    variant = {"VariantName": "v", "ModelName": "m", "InitialInstanceCount": 1, "InstanceType": "ml.z9.huge"}
    with pytest.raises(sm.exceptions.ClientError, match="ml.z9.huge"):
        sm.create_endpoint_config(EndpointConfigName="bad", ProductionVariants=[variant])


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_widened_types_work_in_a_moto_server_started_here(aws_env, monkeypatch):
    widen_instance_types()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
        provider = SageMakerProvider(role_arn=ROLE_ARN)
        created = provider.create(spec(instance_type="ml.p5.48xlarge"))
        assert provider.describe(created).instance_type == "ml.p5.48xlarge"
        provider.delete(created)
    finally:
        server.stop()


def test_default_clients_send_each_request_once(aws_env):
    """botocore's own retries are off (total_max_attempts=1): retrying is cloudrun.retry's job alone."""
    client = default_client_factory()("sts", REGION)
    sent = []

    def answer_500(request, **_):
        sent.append(request.url)
        return AWSResponse(request.url, 500, {}, EmptyBody())

    client.meta.events.register("before-send", answer_500)
    with pytest.raises(ClientError):
        client.get_caller_identity()
    assert len(sent) == 1


# --- quotas, retries and error paths (Stubber) -----------------------------------------------------------


def quota_page(name: str, value: float) -> dict:
    return {"Quotas": [{"ServiceCode": "sagemaker", "QuotaName": name, "QuotaCode": "L-1", "Value": value}]}


def test_quota_found_is_cached(stubbed):
    provider, fake = stubbed
    fake.stub("service-quotas").add_response(
        "list_service_quotas", quota_page("ml.g5.48xlarge for endpoint usage", 2.0), {"ServiceCode": "sagemaker"}
    )
    assert provider.quota("ml.g5.48xlarge", REGION) == 2
    assert provider.quota("ml.g5.48xlarge", REGION) == 2  # no second call (Stubber would refuse it)


def test_quota_falls_back_to_the_default_then_to_unknown(stubbed):
    provider, fake = stubbed
    quotas = fake.stub("service-quotas")
    quotas.add_response("list_service_quotas", quota_page("ml.m5.large for endpoint usage", 4.0))
    quotas.add_response("list_aws_default_service_quotas", quota_page("ml.g6.xlarge for endpoint usage", 0.0))
    assert provider.quota("ml.g6.xlarge", REGION) == 0
    assert provider.quota("ml.p5.48xlarge", REGION) is None


def test_quota_access_denied_is_unknown(stubbed):
    provider, fake = stubbed
    fake.stub("service-quotas").add_client_error("list_service_quotas", "AccessDeniedException", "no", 400)
    assert provider.quota("ml.g5.48xlarge", REGION) is None


def test_throttling_is_retried_by_our_layer(stubbed, sleeps):
    provider, fake = stubbed
    sm = fake.stub("sagemaker")
    for _ in range(2):
        sm.add_client_error("describe_endpoint", "ThrottlingException", "Rate exceeded", 400)
    sm.add_response("describe_endpoint", endpoint_record())
    sm.add_response("describe_endpoint_config", config_record())
    sm.add_response("list_tags", managed_tags())
    assert provider.describe(ref()).state is EndpointState.in_service
    assert len(sleeps) == 2


def test_quota_refusal_on_create_endpoint_rolls_back_config_and_model(stubbed):
    provider, fake = stubbed
    sm = fake.stub("sagemaker")
    not_found(sm, "describe_endpoint")
    sm.add_response("create_model", {"ModelArn": arn("model", "ds-67b")})
    sm.add_response("create_endpoint_config", {"EndpointConfigArn": arn("endpoint-config", "ds-67b")})
    limit = "The account-level service limit 'ml.g5.48xlarge for endpoint usage' is 0 Instances"
    sm.add_client_error("create_endpoint", "ResourceLimitExceeded", limit, 400)
    sm.add_response("delete_endpoint_config", {}, {"EndpointConfigName": "ds-67b"})
    sm.add_response("delete_model", {}, {"ModelName": "ds-67b"})
    with pytest.raises(QuotaExceeded, match="account-level service limit") as raised:
        provider.create(spec())
    assert "Service Quotas" in raised.value.hint


def test_invalid_endpoint_config_rolls_back_the_model(stubbed):
    provider, fake = stubbed
    sm = fake.stub("sagemaker")
    not_found(sm, "describe_endpoint")
    sm.add_response("create_model", {"ModelArn": arn("model", "ds-67b")})
    sm.add_client_error("create_endpoint_config", "ValidationException", "Invalid instance type", 400)
    sm.add_response("delete_model", {}, {"ModelName": "ds-67b"})
    with pytest.raises(InvalidInput, match="Invalid instance type"):
        provider.create(spec())


def test_a_5xx_on_create_is_not_repeated_and_what_it_may_have_made_is_removed(stubbed, sleeps):
    provider, fake = stubbed
    sm = fake.stub("sagemaker")
    not_found(sm, "describe_endpoint")
    sm.add_response("create_model", {"ModelArn": arn("model", "ds-67b")})
    sm.add_response("create_endpoint_config", {"EndpointConfigArn": arn("endpoint-config", "ds-67b")})
    sm.add_client_error("create_endpoint", "InternalFailure", "internal error", 500)
    sm.add_response("describe_endpoint", endpoint_record(status="Creating"))  # it did get created
    sm.add_response("list_tags", managed_tags())
    for operation in ("delete_endpoint", "delete_endpoint_config", "delete_model"):
        sm.add_response(operation, {})
    with pytest.raises(CloudrunError, match="internal error"):
        provider.create(spec())
    assert sleeps == []


CAPACITY = "Unable to provision requested ML compute capacity due to InsufficientInstanceCapacity error."


@pytest.mark.parametrize(
    ("final", "reason", "state"),
    [("InService", None, EndpointState.in_service), ("Failed", CAPACITY, EndpointState.failed)],
)
def test_creating_then_in_service_or_failed_for_capacity(stubbed, final, reason, state):
    provider, fake = stubbed
    sm = fake.stub("sagemaker")
    for status, why in (("Creating", None), (final, reason)):
        sm.add_response("describe_endpoint", endpoint_record(status=status, reason=why))
        sm.add_response("describe_endpoint_config", config_record())
        sm.add_response("list_tags", managed_tags())
    assert provider.describe(ref()).state is EndpointState.creating
    last = provider.describe(ref())
    assert (last.state, last.failure_reason) == (state, reason)
    if reason:
        error = provider.failure_error(last)
        assert isinstance(error, CapacityUnavailable) and "ml.g5.48xlarge" in error.message


def test_invoke_sends_the_chat_payload_as_json(stubbed):
    provider, fake = stubbed
    answer = json.dumps({"choices": [{"message": {"role": "assistant", "content": "hi"}}]}).encode()
    payload = {"messages": [{"role": "user", "content": "hello"}], "max_tokens": 8}
    expected = {"EndpointName": "ds-67b", "ContentType": "application/json", "Accept": "application/json"}
    fake.stub("sagemaker-runtime").add_response(
        "invoke_endpoint",
        {"Body": StreamingBody(io.BytesIO(answer), len(answer))},
        {**expected, "Body": json.dumps(payload)},
    )
    assert provider.invoke(ref(), payload)["choices"][0]["message"]["content"] == "hi"


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("CapacityError: Unable to provision requested ML compute capacity.", CapacityUnavailable),
        ("The account-level service limit 'ml.p5.48xlarge for endpoint usage' is 0 Instances", QuotaExceeded),
        ("CannotStartContainerError. Please ensure the model container starts", CloudrunError),
    ],
)
def test_failure_reasons_map_to_errors_the_deployer_can_fail_over_on(reason, expected):
    endpoint = Endpoint(ref=ref(), state=EndpointState.failed, failure_reason=reason)
    assert type(SageMakerProvider(client_factory=lambda *_: None).failure_error(endpoint)) is expected


def test_no_credentials_is_a_check_result_with_the_hint(aws_env, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    result = SageMakerProvider(sleep=lambda _: None).check()
    assert (result.credentials_ok, result.hint) == (False, CREDENTIALS_HINT)


def test_check_reports_the_identity(moto_aws):
    result = SageMakerProvider().check()
    assert (result.credentials_ok, result.identity, result.detail) == (
        True,
        f"arn:aws:sts::{ACCOUNT}:user/moto",
        f"account {ACCOUNT}",
    )


# --- rendering ---------------------------------------------------------------------------------------------


def test_render_requests_redacts_the_token_and_follows_the_model(aws_env, monkeypatch):
    monkeypatch.setenv("HUGGING_FACE_HUB_TOKEN", "hf_secret")
    provider = SageMakerProvider(client_factory=lambda *_: None)
    v3 = spec(model_id="deepseek-ai/DeepSeek-V3", precision=Precision.fp8, instance_type="ml.p5.48xlarge")
    (op, model), (_, config), (_, endpoint) = provider.render_requests(v3, ROLE_ARN)
    env = model["PrimaryContainer"]["Environment"]
    assert op == "create_model" and "hf_secret" not in json.dumps(model)
    assert env["OPTION_TRUST_REMOTE_CODE"] == "true" and env["OPTION_DTYPE"] == "bf16"
    assert "OPTION_QUANTIZE" not in env  # an FP8 checkpoint: vLLM reads its quantization itself
    assert config["ProductionVariants"][0]["InstanceType"] == "ml.p5.48xlarge"
    assert endpoint == {"EndpointName": "ds-67b", "EndpointConfigName": "ds-67b", "Tags": model["Tags"]}
    distill = provider.render_requests(spec(model_id="deepseek-ai/DeepSeek-R1-Distill-Qwen-32B"))[0][1]
    assert "OPTION_TRUST_REMOTE_CODE" not in distill["PrimaryContainer"]["Environment"]
    assert distill["ExecutionRoleArn"] == f"arn:aws:iam::<account>:role/{ROLE_NAME}"  # dry run: no IAM call
