"""The Vertex AI adapter through the real aiplatform_v1 REST clients, against the stateful fake in cloudrun.sandbox:
lifecycle, labels, failures and rollback, the fake's strictness, error mapping and wiring.

Metrics, quota and sandbox credentials: test_gcp_adapter_metrics.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from google.api_core import exceptions as google_errors
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.auth.exceptions import DefaultCredentialsError
from google.cloud import aiplatform_v1

from cloudrun import provider as base
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
from cloudrun.models import Endpoint, EndpointRef, EndpointState
from cloudrun.providers.gcp import VertexProvider
from cloudrun.providers.gcp_client import translate as _translate
from cloudrun.sandbox.vertex_fake import PROJECT_NUMBER, STOCKOUT, VertexSandbox
from tests.gcp_fixtures import REGION, loopback, spec, start_fake, wait_until


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[VertexSandbox]:
    sandbox = start_fake(monkeypatch)
    yield sandbox
    sandbox.stop()


@pytest.fixture
def vertex(fake: VertexSandbox) -> VertexProvider:
    return VertexProvider(sleep=lambda _: None)


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
    assert base.registry()["gcp"] == "cloudrun.providers.gcp:VertexProvider"
    assert base.provider_class("gcp") is VertexProvider
    code = "import sys, cloudrun.cli; print(sorted(m for m in sys.modules if m.startswith('google.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['google.cloud']"  # the namespace package a .pth file loads at start-up, nothing else
