"""End to end on Google and Azure: the installed `cloudrun` command, in its own process, against the fakes.

The Vertex and Azure fakes run in this test process (so the tests can read what each command did to them);
the last test starts the whole sandbox with `cloudrun sandbox start` and deploys to each of the three clouds.
Every subprocess has a timeout. The deployer polls an endpoint first after 10 s, then 15 s (its default
wait policy, not changeable from the command line), so a deploy takes 10-25 s here: the sandbox test runs
its four deploys side by side.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from google.cloud.aiplatform_v1 import AcceleratorType

from cloudrun.sandbox import azure_fake, vertex_fake

CLOUDRUN = Path(sys.executable).with_name("cloudrun")
MODEL_7B = "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"
MODEL_32B = "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B"
TIMEOUT_S = 120
MANAGED = "cloudrun-managed"
DEPLOYMENT = "cloudrun-deployment"
ACCELERATORS = {"L4": "NVIDIA_L4", "T4": "NVIDIA_TESLA_T4", "A100": "NVIDIA_A100_80GB", "H100": "NVIDIA_H100_80GB"}
# Credentials and endpoints from the developer's machine must not reach the subprocesses.
_HOST_PREFIXES = ("AWS_", "GOOGLE_", "GCE_", "AZURE_", "AZUREML_", "CLOUDSDK_", "CLOUDRUN_", "HF_", "HUGGING_FACE")

pytestmark = [pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_HOST_PREFIXES) and k != "REQUESTS_CA_BUNDLE"}
    return {**env, "CLOUDRUN_OFFLINE": "1", "CLOUDRUN_HOME": str(home), **extra}


def cloudrun(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(CLOUDRUN), *args], env=env, capture_output=True, text=True, timeout=TIMEOUT_S,
                            cwd=cwd)  # fmt: skip
    assert result.returncode == 0, (
        f"cloudrun {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    )
    return result


def one_json(result: subprocess.CompletedProcess[str]) -> Any:
    """Return stdout parsed as exactly one JSON document (anything else on stdout fails the test)."""
    return json.loads(result.stdout)


def status_rows(env: dict[str, str], *flags: str) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in one_json(cloudrun(env, "status", *flags, "--json"))["deployments"]}


def feasible_options(env: dict[str, str], model: str, *filters: str) -> list[dict[str, Any]]:
    options = one_json(cloudrun(env, "plan", model, *filters, "--json"))["options"]
    return [o for o in options if o["feasible"]]


def placement(row: dict[str, Any]) -> tuple[str, str, str, bool]:
    return row["provider"], row["region"], row["instance_type"], bool(row.get("spot", False))


def assert_lands_on_the_first_usable(options: list[dict[str, Any]], deployed: dict[str, Any], progress: str) -> None:
    """Assert the deploy landed on a feasible plan option, every one ranked ahead of it skipped with a reason."""
    ranked = [placement(o) for o in options]
    assert placement(deployed) in ranked, (placement(deployed), ranked[:5])
    for provider, region, instance_type, spot in ranked[: ranked.index(placement(deployed))]:
        label = f"{provider} {region} {instance_type}" + (" spot" if spot else "")
        assert f"{label}:" in progress, f"{label} ranks ahead but was neither tried nor skipped:\n{progress}"


# --- Vertex AI ---------------------------------------------------------------------------------------------


@pytest.fixture
def vertex():
    fake = vertex_fake.start()
    yield fake
    fake.stop()


def unlabelled_vertex_resources(fake: vertex_fake.VertexSandbox) -> tuple[str, str]:
    """Put a model and an endpoint without cloudrun's labels into the fake, as someone's own; return their names."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import aiplatform_v1

    client = {
        "transport": "rest",
        "credentials": AnonymousCredentials(),
        "client_options": ClientOptions(api_endpoint=fake.url),
    }
    parent = "projects/someone/locations/us-central1"
    theirs = {"display_name": "theirs", "labels": {"team": "research"}}
    models = aiplatform_v1.ModelServiceClient(**client)
    started = models.upload_model(parent=parent, model={**theirs, "container_spec": {"image_uri": "example/serve:1"}})
    done = models.get_operation(request={"name": started.operation.name})
    model = aiplatform_v1.UploadModelResponse.deserialize(done.response.value).model
    endpoints = aiplatform_v1.EndpointServiceClient(**client)
    started = endpoints.create_endpoint(parent=parent, endpoint=theirs)
    done = endpoints.get_operation(request={"name": started.operation.name})
    return model, aiplatform_v1.Endpoint.deserialize(done.response.value).name


def test_vertex_deploy_status_down_with_the_fake_as_vertex_ai(vertex, tmp_path):
    their_model, their_endpoint = unlabelled_vertex_resources(vertex)
    with vertex.state.lock:
        theirs_before = copy.deepcopy((vertex.state.models[their_model], vertex.state.endpoints[their_endpoint]))
    env = clean_env(tmp_path / "home", **vertex_fake.environment(vertex.url))
    (planned, *_) = feasible_options(env, MODEL_7B, "--provider", "gcp", "--region", "us-central1")
    before = len(vertex.state.seen)

    deployed = one_json(cloudrun(env, "deploy", MODEL_7B, "--provider", "gcp", "--region", "us-central1", "--yes",
                                 "--json"))  # fmt: skip

    name = deployed["name"]
    assert (deployed["provider"], deployed["region"], deployed["status"]) == ("gcp", "us-central1", "in_service")
    assert deployed["instance_type"] == planned["instance_type"]
    state = vertex.state
    posts = [path for method, path in state.seen[before:] if method == "POST"]
    assert any(p.endswith("/models:upload") for p in posts), posts
    assert any(p.endswith("/endpoints") for p in posts), posts
    assert any(p.endswith(":deployModel") for p in posts), posts
    labels = {MANAGED: "true", DEPLOYMENT: name}
    with state.lock:
        (model,) = [m for n, m in state.models.items() if n != their_model]
        (endpoint,) = [e for n, e in state.endpoints.items() if n != their_endpoint]
        assert model["labels"] == labels and endpoint["labels"] == labels
        assert deployed["endpoint"] == endpoint["name"]
        (on_endpoint,) = endpoint["deployedModels"]
        assert on_endpoint["model"] == model["name"]
        resources = on_endpoint["dedicatedResources"]
        machine = resources["machineSpec"]
        assert machine["machineType"] == planned["instance_type"]
        # the SDK sends the enum by number (json_format's default): read it back by name
        assert AcceleratorType(machine["acceleratorType"]).name == ACCELERATORS[planned["gpu_model"]]
        assert int(machine["acceleratorCount"]) == planned["gpu_count"]
        assert not resources.get("spot") and not planned["spot"]

    shown = status_rows(env)[name]
    assert (shown["provider"], shown["status"], shown["endpoint"]) == ("gcp", "in_service", endpoint["name"])

    result = cloudrun(env, "down", name, "--yes")

    assert f"removed {name}" in result.stdout
    with state.lock:
        assert sorted(state.models) == [their_model] and sorted(state.endpoints) == [their_endpoint]
        assert (state.models[their_model], state.endpoints[their_endpoint]) == theirs_before
    theirs = re.compile(
        rf"/(?:{re.escape(their_endpoint)}|{re.escape(their_model)})(?:[:/]|$)".replace(
            f"projects/{vertex_fake.PROJECT_NUMBER}", "projects/[^/]+"
        )
    )
    touched = [(m, p) for m, p in state.seen[before:] if m != "GET" and theirs.search(p)]
    assert touched == [], touched  # nothing but reads ever reached their model or endpoint
    assert status_rows(env) == {}


# --- Azure ML ----------------------------------------------------------------------------------------------


@pytest.fixture
def azure():
    fake = azure_fake.start()
    yield fake
    fake.stop()


def test_azure_deploy_status_down_with_the_fake_as_azure(azure, tmp_path):
    azure.arm.add_endpoint("handmade", tags={"team": "research"})
    theirs_before = copy.deepcopy(azure.arm.endpoints["handmade"])
    env = clean_env(tmp_path / "home", **azure_fake.environment(azure))
    planned = feasible_options(env, MODEL_32B, "--provider", "azure", "--region", "eastus")

    result = cloudrun(env, "deploy", MODEL_32B, "--provider", "azure", "--region", "eastus", "--yes", "--json",
                      cwd=tmp_path)  # fmt: skip

    deployed = one_json(result)  # the SDK's poll dots and log lines never reach stdout
    name = deployed["name"]
    assert (deployed["provider"], deployed["region"], deployed["status"]) == ("azure", "eastus", "in_service")
    assert_lands_on_the_first_usable(planned, deployed, result.stderr)
    arm = azure.arm
    tags = {MANAGED: "true", DEPLOYMENT: name}
    assert arm.endpoints[name]["tags"] == tags
    deployment = arm.deployments[name, "main"]
    assert deployment["tags"] == tags
    assert deployment["properties"]["instanceType"] == deployed["instance_type"]
    assert deployment["properties"]["provisioningState"] == "Succeeded"
    assert arm.endpoints[name]["properties"]["traffic"] == {"main": 100}

    shown = status_rows(env)[name]
    assert (shown["provider"], shown["status"], shown["instance_type"]) == (
        "azure",
        "in_service",
        deployed["instance_type"],
    )

    result = cloudrun(env, "down", name, "--yes", cwd=tmp_path)

    assert f"removed {name}" in result.stdout
    assert listed_endpoints(arm) == ["handmade"] and list(arm.deployments) == []
    assert arm.endpoints["handmade"] == theirs_before
    assert not [(m, p) for m, p in arm.requests if m in ("PUT", "PATCH", "DELETE", "POST") and "handmade" in p]
    assert status_rows(env) == {}


def listed_endpoints(arm: Any) -> list[str]:
    """Return the endpoint names a client listing them now sees (the fake finishes deletes on the next read)."""
    path = (f"/subscriptions/{azure_fake.SUBSCRIPTION}/resourceGroups/{azure_fake.RESOURCE_GROUP}/providers/"
            f"Microsoft.MachineLearningServices/workspaces/{azure_fake.WORKSPACE}/onlineEndpoints")  # fmt: skip
    status, _, body = arm.handle("GET", path, {"authorization": "Bearer sandbox"}, b"")
    assert status == 200, body
    return sorted(endpoint["name"] for endpoint in body["value"])


# --- the sandbox: `--cheapest --sandbox` can land on any of the three ------------------------------------


def start_deploy(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    command = [str(CLOUDRUN), "deploy", MODEL_7B, *args, "--sandbox", "--yes", "--json"]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str]) -> tuple[Any, str]:
    """Return (the JSON document on stdout, stderr) of a finished deploy; fail on a non-zero exit."""
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    assert proc.returncode == 0, f"{' '.join(proc.args)} exited {proc.returncode}:\n{stdout}\n{stderr}"
    return json.loads(stdout), stderr


def stop_sandbox(env: dict[str, str], home: Path) -> None:
    subprocess.run([str(CLOUDRUN), "sandbox", "stop"], env=env, capture_output=True, text=True, timeout=30)
    server_file = home / "sandbox" / "server.json"
    deadline = time.monotonic() + 10
    while server_file.exists() and time.monotonic() < deadline:  # the server removes it when it has stopped
        time.sleep(0.1)
    assert not server_file.exists(), "the sandbox server did not stop"


def test_deploy_sandbox_lands_on_each_cloud_and_cheapest_follows_the_plan(tmp_path):
    home = tmp_path / "home"
    env = clean_env(home, CLOUDRUN_SANDBOX_STARTUP_S="0.5")
    procs: dict[str, subprocess.Popen[str]] = {}
    cloudrun(env, "sandbox", "start", "--timeout", "60")
    try:
        assert status_rows(env, "--sandbox") == {}  # also creates the state file before four writers share it
        plan = feasible_options(env, MODEL_7B)
        for p in ("aws", "gcp", "azure"):  # side by side: each waits 10-25 s for the deployer's polls
            procs[p] = start_deploy(env, "--provider", p, "--name", f"e2e-{p}")
        procs["cheapest"] = start_deploy(env, "--cheapest", "--name", "e2e-cheapest")
        results = {key: finish(proc) for key, proc in procs.items()}

        for p in ("aws", "gcp", "azure"):
            deployed, _ = results[p]
            assert (deployed["name"], deployed["provider"], deployed["status"]) == (f"e2e-{p}", p, "in_service")
            assert placement(deployed) in {placement(o) for o in plan}
        cheapest, progress = results["cheapest"]
        assert cheapest["status"] == "in_service" and cheapest["provider"] in ("aws", "gcp", "azure")
        assert_lands_on_the_first_usable(plan, cheapest, progress)

        shown = status_rows(env, "--sandbox")
        names = ["e2e-aws", "e2e-gcp", "e2e-azure", "e2e-cheapest"]
        assert {n: shown[n]["status"] for n in names} == dict.fromkeys(names, "in_service")

        down = [str(CLOUDRUN), "down", "--sandbox", "--yes"]
        pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
        downs = {n: subprocess.Popen([*down, n], env=env, **pipes) for n in names}
        for name, proc in downs.items():
            stdout, stderr = proc.communicate(timeout=TIMEOUT_S)
            assert proc.returncode == 0 and f"removed {name}" in stdout, stdout + stderr
        # The clouds hold nothing of cloudrun's any more: a reconcile adopts no orphan.
        assert status_rows(env, "--sandbox", "--refresh") == {}
    finally:
        for proc in procs.values():  # a failed assertion above must not leave a deploy running
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        stop_sandbox(env, home)


def test_in_the_sandbox_a_called_aws_endpoint_is_kept_and_credits_have_their_own_ledger(tmp_path):
    """The sandbox teaches what AWS does: InvokeEndpoint shows in CloudWatch, so a busy endpoint is never idle."""
    home = tmp_path / "home"
    env = clean_env(home, CLOUDRUN_SANDBOX_STARTUP_S="0.5")
    cloudrun(env, "sandbox", "start", "--timeout", "60")
    try:
        expires = f"{datetime.now(timezone.utc) + timedelta(days=60):%Y-%m-%d}"
        cloudrun(env, "credits", "add", "--sandbox", "--provider", "aws", "--amount", "100", "--expires", expires,
                 "--services", "sagemaker", "--gpu-eligible", "--name", "sandbox-activate")  # fmt: skip
        assert [g["name"] for g in one_json(cloudrun(env, "credits", "--sandbox", "--json"))["grants"]] == [
            "sandbox-activate"
        ]
        assert one_json(cloudrun(env, "credits", "--json"))["grants"] == []  # the real ledger is untouched
        deployed = one_json(cloudrun(env, "deploy", MODEL_7B, "--provider", "aws", "--name", "busy-aws",
                                     "--sandbox", "--yes", "--json"))  # fmt: skip
        assert deployed["status"] == "in_service"
        time.sleep(3)  # in service for longer than the idle window below
        reply = one_json(cloudrun(env, "invoke", "busy-aws", "hello", "--sandbox", "--json"))
        assert reply["choices"][0]["message"]["content"]
        report = one_json(cloudrun(env, "teardown", "--idle", "3s", "--yes", "--sandbox", "--json"))
        assert report["deleted"] == []
        (kept,) = [k for k in report["kept"] if k["name"] == "busy-aws"]
        assert "1 invocation in the last 3s" in kept["reason"]
        cloudrun(env, "down", "busy-aws", "--sandbox", "--yes")
    finally:
        stop_sandbox(env, home)
