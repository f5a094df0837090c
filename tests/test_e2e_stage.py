"""End to end in the sandbox: `cloudrun stage` the 67B into each cloud's own storage, then deploy it on each cloud
and `--cheapest`, with a Hugging Face token in the environment: every endpoint loads from its own cloud's storage
and no token is in any endpoint's environment (read back from each fake: SageMaker's model, Vertex's model, the
Azure ML deployment)."""

from __future__ import annotations

import json
import subprocess

import boto3
import pytest
import requests

from cloudrun.sandbox import azure_fake
from tests.test_e2e_clouds import (
    CLOUDRUN,
    TIMEOUT_S,
    clean_env,
    cloudrun,
    feasible_options,
    finish,
    one_json,
    stop_sandbox,
)

MODEL = "deepseek-ai/deepseek-llm-67b-chat"
TOKEN = "hf_sandbox_secret_never_in_an_endpoint"

pytestmark = [pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]


def deploy(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    command = [str(CLOUDRUN), "deploy", MODEL, *args, "--sandbox", "--yes", "--json"]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_staged_67b_deploys_load_from_each_cloud_storage_and_no_token_enters_an_endpoint(tmp_path):
    home = tmp_path / "home"
    env = clean_env(home, CLOUDRUN_SANDBOX_STARTUP_S="0.5")
    cloudrun(env, "sandbox", "start", "--timeout", "60")
    procs: dict[str, subprocess.Popen[str]] = {}
    try:
        info = json.loads((home / "sandbox" / "server.json").read_text())
        regions = {"aws": "us-east-1", "azure": azure_fake.LOCATION,
                   "gcp": feasible_options(env, MODEL, "--provider", "gcp")[0]["region"]}  # fmt: skip
        staged = {p: one_json(cloudrun(env, "stage", MODEL, "--provider", p, "--region", r, "--sandbox", "--json"))
                  for p, r in regions.items()}  # fmt: skip
        assert all(s["sent_bytes"] == s["total_bytes"] > 0 for s in staged.values())
        again = one_json(cloudrun(env, "stage", MODEL, "--provider", "aws", "--region", "us-east-1", "--sandbox",
                                  "--json"))  # fmt: skip
        assert (again["sent_bytes"], again["skipped_bytes"]) == (0, again["total_bytes"])  # resumed: nothing to send
        listed = one_json(cloudrun(env, "stage", "list", "--sandbox", "--json"))
        assert {c["provider"] for c in listed["staged"]} == {"aws", "gcp", "azure"}

        env = {**env, "HF_TOKEN": TOKEN}
        for p, r in regions.items():
            procs[p] = deploy(env, "--provider", p, "--region", r, "--name", f"st-{p}")
        procs["cheapest"] = deploy(env, "--cheapest", "--name", "st-cheapest")
        results = {key: finish(proc) for key, proc in procs.items()}
        assert all(doc["status"] == "in_service" for doc, _ in results.values())
        for key, (doc, _) in results.items():
            provider = doc["provider"]
            request = read_back(info, provider, doc["region"], doc["name"])
            assert loads_from(provider, staged[provider]["uri"]) in json.dumps(request), (key, request)
            assert TOKEN not in json.dumps(request), (key, request)
        status = one_json(cloudrun(env, "status", "--sandbox", "--json"))
        assert status["staged_weights"]["copies"] == 3
        assert all(row["time_to_serve_s"] is not None for row in status["deployments"])
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=TIMEOUT_S)
        stop_sandbox(env, home)


def loads_from(provider: str, uri: str) -> str:
    """Return how the deployment names the staged copy at `uri`: the URI itself, or on Azure the path on cloudrun's
    datastore over that container (azureml://.../datastores/NAME/paths/PREFIX)."""
    if provider != "azure":
        return uri
    container, _, prefix = uri.split("/blob/", 1)[1].split("/", 1)[1].partition("/")
    return f"/datastores/{container.replace('-', '_')}/paths/{prefix}"


def read_back(info: dict[str, str], provider: str, region: str, name: str) -> object:
    """Return what the cloud holds of the deployment's serving container, read from the sandbox's fake."""
    if provider == "aws":
        sm = boto3.client("sagemaker", region_name=region, endpoint_url=info["aws"], aws_access_key_id="sandbox",
                          aws_secret_access_key="sandbox")  # fmt: skip
        return sm.describe_model(ModelName=name)["PrimaryContainer"]
    if provider == "gcp":
        url = f"{info['gcp']}/v1/projects/cloudrun-sandbox/locations/{region}/models"
        models = requests.get(url, timeout=10).json()["models"]
        return next(m for m in models if m["displayName"] == name)
    path = (f"/subscriptions/{azure_fake.SUBSCRIPTION}/resourceGroups/{azure_fake.RESOURCE_GROUP}/providers/"
            f"Microsoft.MachineLearningServices/workspaces/{azure_fake.WORKSPACE}/onlineEndpoints/{name}/deployments/main")
    answer = requests.get(info["azure"] + path, headers={"Authorization": "Bearer sandbox"}, verify=info["azure_ca"],
                          timeout=10)  # fmt: skip
    deployment = answer.json()["properties"]
    model = requests.get(info["azure"] + deployment["model"].split(info["azure"])[-1], timeout=10,
                         headers={"Authorization": "Bearer sandbox"}, verify=info["azure_ca"]).json()  # fmt: skip
    return {"deployment": deployment, "model": model}
