"""The Vertex AI adapter through the real aiplatform_v1 REST clients, against the stateful fake in cloudrun.sandbox."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests
from google.api_core import exceptions as google_errors
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.auth.exceptions import DefaultCredentialsError
from google.cloud import aiplatform_v1

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
from cloudrun.providers import base
from cloudrun.providers.gcp import VertexProvider, _translate
from cloudrun.sandbox import vertex_fake
from cloudrun.sandbox.vertex_fake import PROJECT_NUMBER, STOCKOUT, VertexSandbox

REGION = "us-central1"
DEPLOY_DELAY_S = 0.3


def loopback(test: Any) -> Any:
    """Let a test open sockets to 127.0.0.1 only (pytest-socket blocks everything else)."""
    return pytest.mark.enable_socket(pytest.mark.allow_hosts(["127.0.0.1"])(test))


def spec(name: str = "r1-7b", **changes: Any) -> DeploySpec:
    fields: dict[str, Any] = {
        "name": name,
        "model_id": "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B",
        "provider": "gcp",
        "service": "vertex",
        "region": REGION,
        "instance_type": "g2-standard-8",
        "gpu_count": 1,
        "tensor_parallel": 1,
        "context": 8192,
        "precision": Precision.bf16,
    }
    return DeploySpec(**{**fields, **changes})


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[VertexSandbox]:
    sandbox = vertex_fake.start(deploy_delay_s=DEPLOY_DELAY_S)
    for name, value in vertex_fake.environment(sandbox.url).items():
        monkeypatch.setenv(name, value)
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    yield sandbox
    sandbox.stop()


@pytest.fixture
def vertex(fake: VertexSandbox) -> VertexProvider:
    return VertexProvider(sleep=lambda _: None)


def wait_until(provider: VertexProvider, ref: EndpointRef, state: EndpointState) -> Endpoint:
    deadline = time.monotonic() + 5
    while True:
        endpoint = provider.describe(ref)
        if endpoint.state is state or time.monotonic() > deadline:
            return endpoint
        time.sleep(0.05)


def raw_client(fake: VertexSandbox, kind: str) -> Any:
    options = ClientOptions(api_endpoint=fake.url)
    return getattr(aiplatform_v1, kind)(transport="rest", credentials=AnonymousCredentials(), client_options=options)


# --- lifecycle ---------------------------------------------------------------------------------------------


@loopback
def test_lifecycle_create_describe_invoke_list_delete(vertex, fake):
    ref = vertex.create(spec())
    assert vertex.describe(ref).state is EndpointState.creating
    ready = wait_until(vertex, ref, EndpointState.in_service)
    assert (ready.state, ready.instance_type, ready.instance_count) == (EndpointState.in_service, "g2-standard-8", 1)
    assert ready.tags == {"cloudrun-managed": "true", "cloudrun-deployment": "r1-7b"}

    answer = vertex.invoke(ref, {"messages": [{"role": "user", "content": "hello"}], "max_tokens": 8})
    assert "hello" in answer["choices"][0]["message"]["content"]
    assert sum(fake.state.predictions.values()) == 1

    listed = vertex.list_managed([REGION, "europe-west4"])
    assert [(e.ref.name, e.ref.endpoint_id, e.state) for e in listed] == [
        ("r1-7b", ref.endpoint_id, EndpointState.in_service)
    ]
    vertex.delete(ref)
    assert fake.state.endpoints == {} and fake.state.models == {}
    vertex.delete(ref)  # gone is done
    with pytest.raises(NotFound):
        vertex.describe(ref)


@loopback
def test_names_carry_the_project_number_and_are_used_as_returned(vertex, fake):
    ref = vertex.create(spec())
    assert vertex.project == "cloudrun-sandbox"
    prefix = f"projects/{PROJECT_NUMBER}/locations/{REGION}/"
    assert ref.endpoint_id.startswith(prefix + "endpoints/")
    assert ref.resources["model"].startswith(prefix + "models/")
    assert ref.resources["deploy_operation"].startswith(ref.endpoint_id + "/operations/")
    gets = [path for method, path in fake.state.seen if method == "GET" and "/endpoints/" in path]
    assert gets and all(f"projects/{PROJECT_NUMBER}/" in path for path in gets)
    assert any(path.startswith("/ui/") for _, path in fake.state.seen)  # the REST LRO poller's prefix


@loopback
def test_spot_machine_and_labels_reach_vertex(vertex, fake):
    ref = vertex.create(spec(spot=True, instance_type="a2-ultragpu-2g", gpu_count=2, tensor_parallel=2))
    wait_until(vertex, ref, EndpointState.in_service)
    deployed = fake.state.endpoints[ref.endpoint_id]["deployedModels"][0]
    resources = deployed["dedicatedResources"]
    assert resources["spot"] is True
    assert (resources["minReplicaCount"], resources["maxReplicaCount"]) == (1, 1)
    machine = resources["machineSpec"]
    assert machine["machineType"] == "a2-ultragpu-2g" and machine["acceleratorCount"] == 2
    assert aiplatform_v1.AcceleratorType(machine["acceleratorType"]).name == "NVIDIA_A100_80GB"
    labels = {"cloudrun-managed": "true", "cloudrun-deployment": "r1-7b"}
    model = fake.state.models[ref.resources["model"]]
    assert model["labels"] == labels and fake.state.endpoints[ref.endpoint_id]["labels"] == labels


@loopback
def test_the_serving_container_follows_the_template(vertex, fake, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    ref = vertex.create(spec())
    container = fake.state.models[ref.resources["model"]]["containerSpec"]
    assert container["imageUri"].startswith(
        "us-docker.pkg.dev/vertex-ai/vertex-vision-model-garden-dockers/pytorch-vllm-serve:"
    )
    assert {"--model=deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "--tensor-parallel-size=1", "--max-model-len=8192",
            "--gpu-memory-utilization=0.9"} <= set(container["args"])  # fmt: skip
    assert (container["predictRoute"], container["healthRoute"], container["ports"]) == (
        "/generate",
        "/ping",
        [{"containerPort": 8080}],
    )
    assert (container["sharedMemorySizeMb"], container["deploymentTimeout"]) == ("16384", "7200s")
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env == {"MODEL_ID": spec().model_id, "DEPLOY_SOURCE": "cloudrun", "HF_TOKEN": "hf_secret"}
    rendered = json.dumps(vertex.render_requests(spec()))
    assert "hf_secret" not in rendered and "<copied from $HF_TOKEN" in rendered


@loopback
def test_an_endpoint_found_by_label_reports_creating_from_its_listed_operation(vertex, fake):
    vertex.create(spec())
    (found,) = vertex.list_managed([REGION])
    assert found.state is EndpointState.creating and "deploy_operation" not in found.ref.resources
    assert wait_until(vertex, found.ref, EndpointState.in_service).state is EndpointState.in_service


# --- never touch what is not ours ----------------------------------------------------------------------------


@loopback
def test_an_unlabelled_endpoint_is_never_listed_or_deleted(vertex, fake):
    endpoints = raw_client(fake, "EndpointServiceClient")
    operation = endpoints.create_endpoint(
        parent=f"projects/someone/locations/{REGION}", endpoint=aiplatform_v1.Endpoint(display_name="hand-made")
    )
    name = endpoints.get_operation(request={"name": operation.operation.name}).response
    hand_made = aiplatform_v1.Endpoint.deserialize(name.value).name
    assert vertex.list_managed([REGION]) == []
    with pytest.raises(Conflict, match="no cloudrun-managed=true label"):
        vertex.delete(EndpointRef(provider="gcp", region=REGION, name="hand-made", endpoint_id=hand_made))
    assert hand_made in fake.state.endpoints


@loopback
def test_a_second_deployment_with_the_same_name_is_refused(vertex, fake):
    vertex.create(spec())
    with pytest.raises(Conflict, match="already exists"):
        vertex.create(spec())
    assert len(fake.state.models) == 1 and len(fake.state.endpoints) == 1


# --- failures and rollback ---------------------------------------------------------------------------------


@loopback
def test_a_stockout_fails_the_deploy_and_maps_to_capacity_then_removal_cleans_up(vertex, fake):
    fake.fail_next_deploy(STOCKOUT)
    ref = vertex.create(spec(spot=True))
    failed = wait_until(vertex, ref, EndpointState.failed)
    assert failed.state is EndpointState.failed and "ZONE_RESOURCE_POOL_EXHAUSTED" in failed.failure_reason
    error = vertex.failure_error(failed)
    assert isinstance(error, CapacityUnavailable) and "g2-standard-8" in error.message
    vertex.delete(ref)  # the deployer's rollback
    assert fake.state.endpoints == {} and fake.state.models == {}


@loopback
def test_a_refused_deploy_rolls_back_endpoint_and_model(vertex, fake):
    fake.fail_next_request(":deployModel", "INVALID_ARGUMENT", "Machine type g2-standard-8 is not supported.")
    with pytest.raises(InvalidInput, match="not supported"):
        vertex.create(spec())
    assert fake.state.endpoints == {} and fake.state.models == {}


@loopback
def test_a_5xx_on_create_endpoint_is_not_repeated_and_the_model_is_rolled_back(vertex, fake):
    fake.fail_next_request("/endpoints", "UNAVAILABLE", "The service is currently unavailable.", method="POST")
    with pytest.raises(Transient):
        vertex.create(spec())
    creates = [path for method, path in fake.state.seen if method == "POST" and path.endswith("/endpoints")]
    assert len(creates) == 1 and fake.state.models == {} and fake.state.endpoints == {}


@loopback
def test_the_sdk_sends_each_request_once_and_cloudrun_retries(fake):
    fake.fail_next_request("/endpoints", "UNAVAILABLE", "try again")
    with pytest.raises(Transient):
        VertexProvider(sleep=lambda _: None, deadline_s=0).list_managed([REGION])
    assert len([p for _, p in fake.state.seen if p.endswith("/endpoints")]) == 1
    fake.fail_next_request("/endpoints", "UNAVAILABLE", "try again")
    assert VertexProvider(sleep=lambda _: None).list_managed([REGION]) == []
    assert len([p for _, p in fake.state.seen if p.endswith("/endpoints")]) == 3


# --- the fake is as strict as Vertex -----------------------------------------------------------------------


@loopback
def test_the_fake_refuses_deleting_what_is_still_deployed(vertex, fake):
    ref = vertex.create(spec())
    wait_until(vertex, ref, EndpointState.in_service)
    with pytest.raises(Conflict, match="deployed"):
        vertex._run_operation("endpoint", REGION, "delete_endpoint", {"name": ref.endpoint_id})
    with pytest.raises(Conflict, match="deployed"):
        vertex._run_operation("model", REGION, "delete_model", {"name": ref.resources["model"]})


@loopback
def test_the_fake_refuses_labels_google_rejects(fake):
    endpoints = raw_client(fake, "EndpointServiceClient")
    bad = aiplatform_v1.Endpoint(display_name="x", labels={"Cloudrun.Managed": "TRUE"})
    with pytest.raises(google_errors.BadRequest, match="Invalid label") as caught:
        endpoints.create_endpoint(parent=f"projects/p/locations/{REGION}", endpoint=bad)
    assert isinstance(_translate(caught.value), InvalidInput)


@loopback
def test_the_fake_refuses_deploying_a_missing_model(vertex, fake):
    endpoints = raw_client(fake, "EndpointServiceClient")
    operation = endpoints.create_endpoint(parent=f"projects/p/locations/{REGION}", endpoint={"display_name": "e"})
    endpoint = aiplatform_v1.Endpoint.deserialize(endpoints.get_operation(request={"name": operation.operation.name})
                                                  .response.value)  # fmt: skip
    deployed = {"model": f"projects/p/locations/{REGION}/models/42", "dedicated_resources": {
        "machine_spec": {"machine_type": "g2-standard-8"}, "min_replica_count": 1, "max_replica_count": 1}}  # fmt: skip
    with pytest.raises(google_errors.NotFound):
        endpoints.deploy_model(endpoint=endpoint.name, deployed_model=deployed)


def test_labels_that_break_google_rules_are_never_sent():
    provider = VertexProvider(client_factory=lambda *_: pytest.fail("no client expected"), project="p")
    with pytest.raises(InvalidInput, match="label rules"):
        provider.create(spec(name="R1.7B"))
    with pytest.raises(InvalidInput, match="GPU"):
        provider.render_requests(spec(instance_type="n1-standard-8"))


# --- sandbox safety ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["https://us-central1-aiplatform.googleapis.com", "http://10.0.0.5:8080", None])
def test_sandbox_credentials_are_refused_off_this_machine(monkeypatch, endpoint):
    monkeypatch.setenv("CLOUDRUN_SANDBOX_CREDENTIALS", "1")
    if endpoint:
        monkeypatch.setenv("CLOUDRUN_VERTEX_API_ENDPOINT", endpoint)
    else:
        monkeypatch.delenv("CLOUDRUN_VERTEX_API_ENDPOINT", raising=False)
    with pytest.raises(InvalidInput, match="only for a Vertex endpoint on this machine"):
        VertexProvider()


def test_the_sandbox_environment_is_loopback_only():
    with pytest.raises(InvalidInput):
        vertex_fake.environment("http://example.com:80")
    env = vertex_fake.environment("http://127.0.0.1:9999")
    assert env["CLOUDRUN_SANDBOX_CREDENTIALS"] == "1" and env["NO_GCE_CHECK"] == "true"


@loopback
def test_sandbox_mode_reads_metrics_and_quota_from_the_local_fake_only(vertex, fake):
    ref = vertex.create(spec())
    assert vertex.invocations(ref, since=an_hour_ago()) == 0
    assert vertex.quota("g2-standard-8", REGION) == vertex_fake.QUOTAS["CustomModelServingL4GPUsPerProjectPerRegion"]
    assert vertex.check().credentials_ok and vertex.check().identity == "sandbox (anonymous)"
    paths = [path for _, path in fake.state.seen]
    assert "/v3/projects/123456789012/timeSeries" in paths  # Monitoring, asked on the fake's port
    assert any(path.endswith("/quotaInfos/CustomModelServingL4GPUsPerProjectPerRegion") for path in paths)


def an_hour_ago() -> datetime:
    return datetime.now(timezone.utc) - timedelta(hours=1)


# --- error mapping from recorded Google payloads ----------------------------------------------------------


def http_error(code: int, status: str, message: str) -> google_errors.GoogleAPICallError:
    """Return what api_core raises for a Google REST error reply (the class is chosen by HTTP code only)."""
    response = requests.Response()
    response.status_code = code
    response._content = json.dumps({"error": {"code": code, "message": message, "status": status}}).encode()
    response.request = requests.Request("POST", "https://us-central1-aiplatform.googleapis.com/v1/x").prepare()
    return google_errors.from_http_response(response)


QUOTA = "The following quota metrics exceed quota limits: aiplatform.googleapis.com/custom_model_serving_nvidia_l4_gpus"
CRUD = "Quota exceeded for quota metric 'Resource management (CRUD) requests' and limit 'per minute per region'"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (http_error(429, "RESOURCE_EXHAUSTED", QUOTA), QuotaExceeded),
        (http_error(429, "RESOURCE_EXHAUSTED", CRUD), RateLimited),
        (http_error(429, "RESOURCE_EXHAUSTED", STOCKOUT), CapacityUnavailable),
        (http_error(400, "FAILED_PRECONDITION", 'The Model "m" is deployed or being deployed at ...'), Conflict),
        (http_error(400, "FAILED_PRECONDITION", "This API method requires billing to be enabled."), AuthError),
        (http_error(400, "INVALID_ARGUMENT", "Invalid label"), InvalidInput),
        (http_error(404, "NOT_FOUND", 'Endpoint "e" not found.'), NotFound),
        (http_error(409, "ALREADY_EXISTS", "exists"), Conflict),
        (http_error(403, "PERMISSION_DENIED", "Permission 'aiplatform.endpoints.create' denied"), AuthError),
        (http_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."), AuthError),
        (http_error(503, "UNAVAILABLE", "The service is currently unavailable."), Transient),
        (http_error(500, "INTERNAL", "Internal error encountered."), Transient),
        (http_error(504, "DEADLINE_EXCEEDED", "Deadline exceeded."), Transient),
        (google_errors.from_grpc_status(8, STOCKOUT), CapacityUnavailable),  # a deploy operation's error
        (google_errors.from_grpc_status(9, "Endpoint has deployed models"), Conflict),
        (DefaultCredentialsError("Your default credentials were not found."), AuthError),
        (requests.exceptions.ConnectionError("connection refused"), Transient),
    ],
)
def test_google_errors_map_to_cloudrun_errors(error, expected):
    translated = _translate(error, "my-project")
    assert type(translated) is expected
    if expected is AuthError and not isinstance(error, google_errors.FailedPrecondition):
        assert "gcloud auth application-default login" in str(translated) or "billing" in str(translated)
        assert "my-project" in str(translated)


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (f"RESOURCE_EXHAUSTED: {STOCKOUT}", CapacityUnavailable),
        ("RESOURCE_EXHAUSTED: " + QUOTA, QuotaExceeded),
        ("INTERNAL: Model server never became ready. Please validate that your model file or container...", None),
    ],
)
def test_failure_reasons_map_to_errors_the_deployer_can_fail_over_on(reason, expected):
    ref = EndpointRef(provider="gcp", region=REGION, name="r1-7b", endpoint_id="projects/1/locations/x/endpoints/2")
    error = VertexProvider(client_factory=lambda *_: None, project="p").failure_error(
        Endpoint(ref=ref, state=EndpointState.failed, failure_reason=reason)
    )
    assert type(error) is (expected or CloudrunError)


# --- wiring ------------------------------------------------------------------------------------------------


def test_the_registry_loads_the_adapter_lazily():
    assert base.REGISTRY["gcp"] == "cloudrun.providers.gcp:VertexProvider"
    assert base.provider_class("gcp") is VertexProvider
    code = "import sys, cloudrun.cli; print(sorted(m for m in sys.modules if m.startswith('google.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['google.cloud']"  # the namespace package a .pth file loads at start-up, nothing else


# --- invocations: Cloud Monitoring's online prediction count, over REST, from the fake ----------------------


def ready_endpoint(vertex: VertexProvider, name: str = "r1-7b") -> EndpointRef:
    ref = vertex.create(spec(name))
    assert wait_until(vertex, ref, EndpointState.in_service).state is EndpointState.in_service
    return ref


def half_an_hour_ago() -> datetime:
    return datetime.now(timezone.utc) - timedelta(minutes=30)


@loopback
def test_a_fresh_endpoint_has_zero_invocations(vertex, fake):
    ref = ready_endpoint(vertex)
    assert vertex.invocations(ref, half_an_hour_ago()) == 0  # no time series at all: no calls
    assert vertex.notices == []


@loopback
def test_invocations_count_every_prediction_of_this_endpoint(vertex, fake):
    ref = ready_endpoint(vertex)
    for _ in range(3):
        vertex.invoke(ref, {"messages": [{"role": "user", "content": "hello"}]})
    other = ref.endpoint_id.rsplit("/", 1)[0] + "/999"
    fake.record_prediction(other)  # another endpoint's traffic is not ours
    assert vertex.invocations(ref, half_an_hour_ago()) == 3


@loopback
def test_a_prediction_before_since_is_not_counted(vertex, fake):
    ref = ready_endpoint(vertex)
    now = datetime.now(timezone.utc)
    fake.record_prediction(ref.endpoint_id, at=now - timedelta(minutes=40), count=5)
    assert vertex.invocations(ref, now - timedelta(minutes=30)) == 0
    fake.record_prediction(ref.endpoint_id, at=now - timedelta(minutes=10), count=2)
    assert vertex.invocations(ref, now - timedelta(minutes=30)) == 2
    assert vertex.invocations(ref, now - timedelta(hours=1)) == 7


@loopback
def test_the_count_is_read_over_rest_by_the_returned_project_number_and_endpoint_id(vertex, fake):
    ref = ready_endpoint(vertex)
    vertex.invocations(ref, half_an_hour_ago())
    asked = [(path, query) for method, path, query in fake.state.seen_queries if path.endswith("/timeSeries")]
    assert len(asked) == 1  # no SDK retries
    path, query = asked[0]
    endpoint_id = ref.endpoint_id.rsplit("/", 1)[1]
    assert path == f"/v3/projects/{PROJECT_NUMBER}/timeSeries"
    assert f'resource.labels.endpoint_id="{endpoint_id}"' in query["filter"]
    assert 'metric.type="aiplatform.googleapis.com/prediction/online/prediction_count"' in query["filter"]
    assert 'resource.type="aiplatform.googleapis.com/Endpoint"' in query["filter"]
    assert query["interval.startTime"].endswith("Z") and query["interval.endTime"].endswith("Z")


@loopback
@pytest.mark.parametrize(
    ("status", "message", "hint"),
    [
        ("PERMISSION_DENIED", "Permission monitoring.timeSeries.list denied on resource", "roles/monitoring.viewer"),
        ("UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE"),
    ],
)
def test_a_monitoring_error_leaves_the_count_unknown(fake, status, message, hint):
    vertex = VertexProvider(sleep=lambda _: None, deadline_s=0)  # no time for our retry layer
    ref = ready_endpoint(vertex)
    fake.record_prediction(ref.endpoint_id)
    fake.fail_next_request("/timeSeries", status, message)
    assert vertex.invocations(ref, half_an_hour_ago()) is None
    assert hint in vertex.notices[-1]


@loopback
def test_a_transient_monitoring_error_is_retried_by_our_layer(vertex, fake):
    ref = ready_endpoint(vertex)
    fake.record_prediction(ref.endpoint_id)
    fake.fail_next_request("/timeSeries", "UNAVAILABLE", "The service is currently unavailable.")
    assert vertex.invocations(ref, half_an_hour_ago()) == 1
    assert len([p for _, p in fake.state.seen if p.endswith("/timeSeries")]) == 2


def test_an_endpoint_name_that_is_not_vertexs_leaves_the_count_unknown():
    provider = VertexProvider(client_factory=lambda *_: pytest.fail("no client expected"), project="p")
    ref = EndpointRef(provider="gcp", region=REGION, name="odd", endpoint_id="endpoints/42")
    assert provider.invocations(ref, half_an_hour_ago()) is None


@loopback
def test_the_fake_serves_time_series_shaped_like_monitoring_by_project_id_or_number(fake):
    endpoint = f"projects/{PROJECT_NUMBER}/locations/{REGION}/endpoints/77"
    now = datetime.now(timezone.utc)
    fake.record_prediction(endpoint, at=now - timedelta(minutes=3), count=3)
    params = {
        "filter": 'metric.type="aiplatform.googleapis.com/prediction/online/prediction_count" '
        'AND resource.labels.endpoint_id="77"',
        "interval.startTime": (now - timedelta(minutes=30)).isoformat().replace("+00:00", "Z"),
        "interval.endTime": now.isoformat().replace("+00:00", "Z"),
    }
    for project in ("cloudrun-sandbox", PROJECT_NUMBER):
        (series,) = requests.get(f"{fake.url}/v3/projects/{project}/timeSeries", params=params, timeout=5).json()[
            "timeSeries"
        ]
        assert (series["metricKind"], series["valueType"]) == ("DELTA", "INT64")
        assert series["resource"] == {"type": "aiplatform.googleapis.com/Endpoint", "labels": {
            "resource_container": PROJECT_NUMBER, "location": REGION, "endpoint_id": "77"}}  # fmt: skip
        assert [point["value"] for point in series["points"]] == [{"int64Value": "3"}]  # int64 as a JSON string
    params["filter"] = params["filter"].replace('"77"', '"78"')
    assert requests.get(f"{fake.url}/v3/projects/p/timeSeries", params=params, timeout=5).json() == {}


# --- quota: Cloud Quotas' serving GPU quota per region, in machines --------------------------------------------

L4_QUOTA = "CustomModelServingL4GPUsPerProjectPerRegion"


@loopback
def test_quota_is_the_regions_gpu_quota_divided_by_the_machines_gpus(vertex, fake):
    fake.set_quota(L4_QUOTA, REGION, 6)
    fake.set_quota(L4_QUOTA, "europe-west4", 0)  # Google leaves a 0 value out of its JSON
    machines = ["g2-standard-8", "g2-standard-24", "g2-standard-48", "g2-standard-96"]
    assert [vertex.quota(machine, REGION) for machine in machines] == [6, 3, 1, 0]
    assert vertex.quota("g2-standard-8", "europe-west4") == 0
    assert vertex.quota("g2-standard-8", "mars-central1") is None  # no quota listed there: unknown
    asked = [path for _, path in fake.state.seen if "/quotaInfos/" in path]
    assert asked == [f"/v1/projects/cloudrun-sandbox/locations/global/services/aiplatform.googleapis.com"
                     f"/quotaInfos/{L4_QUOTA}"]  # fmt: skip  # one read per GPU type, every region in it


@loopback
def test_quota_is_unknown_for_spot_unmapped_machines_and_unreadable_quotas(fake):
    vertex = VertexProvider(sleep=lambda _: None, deadline_s=0)
    assert vertex.quota("g2-standard-8", REGION, spot=True) is None  # preemptible quota ids: not verified
    assert vertex.quota("n1-standard-8", REGION) is None
    fake.fail_next_request("/quotaInfos/", "PERMISSION_DENIED", "Permission cloudquotas.quotas.get denied")
    assert vertex.quota("g2-standard-8", REGION) is None
    assert "quota" in vertex.notices[-1]
