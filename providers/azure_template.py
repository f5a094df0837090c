"""The Azure ML requests that create one endpoint, rendered from templates/azureml-vllm.json.

Pure: no SDK and no network, so `deploy --dry-run` can show exactly what `create()` would send; the
adapter turns these parameters into azure-ai-ml entities (ManagedOnlineEndpoint, ManagedOnlineDeployment,
Environment) only when it runs.
"""

from __future__ import annotations

import json
import math
import os
import re
import urllib.parse
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from cloudrun.errors import InvalidInput
from cloudrun.models import MANAGED_TAG, DeploySpec

from .common import REDACTED_TOKEN, hf_token, needs_remote_code

TEMPLATE = "azureml-vllm.json"
NAME_RULE = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
"""Endpoint and deployment names: 3-32 characters, letters, digits and '-', starting with a letter, not ending
with '-' (Azure ML checks this locally in the SDK and again in the service); cloudrun's names are lowercase."""

Request = tuple[str, dict[str, Any]]
BLOB_HOST = ".blob.core.windows.net"

__all__ = ["REDACTED_TOKEN", "hf_token", "load_template", "requests", "check_name", "deployment_name"]


@cache
def load_template() -> dict[str, Any]:
    """Return the vLLM template as shipped in the cloudrun.templates package."""
    return json.loads(resources.files("cloudrun.templates").joinpath(TEMPLATE).read_text(encoding="utf-8"))


def deployment_name() -> str:
    return load_template()["deployment_name"]


def check_name(name: str) -> None:
    """Raise InvalidInput unless `name` is a legal Azure ML online endpoint name; nothing is sent before this."""
    if not NAME_RULE.match(name):
        raise InvalidInput(
            f"{name!r} cannot name an Azure ML online endpoint",
            hint="use 3-32 lowercase letters, digits and '-', starting with a letter and not ending with '-'",
        )


def image(environ: Mapping[str, str] | None = None) -> str:
    """Return the container image: $CLOUDRUN_AZUREML_IMAGE (your wrapper build) or the template's pinned one."""
    environ = os.environ if environ is None else environ
    template = load_template()
    return environ.get(template["image_env"]) or template["image"]


def stock_image_problem() -> str | None:
    """Return why the stock vLLM image cannot serve a model on Azure ML (None with a wrapper image set)."""
    if image() == load_template()["image"]:
        return (
            "Azure ML passes no container arguments, so the stock vLLM image cannot be told which model to "
            "serve: build the two-line wrapper once (`cloudrun azure build-image --registry NAME`) and set "
            "CLOUDRUN_AZUREML_IMAGE"
        )
    return None


def environment_variables(spec: DeploySpec, token: str | None) -> dict[str, str]:
    """Return the container's environment: the model and vLLM's arguments (no args field exists on Azure ML).

    The checkpoint, dtype and quantization come from the spec (cloudrun.serving chose them for this GPU).
    """
    template = load_template()
    values = {"model_id": spec.served_model, "tensor_parallel": spec.tensor_parallel, "context": spec.context}
    args = [arg.format(**values) for arg in template["vllm_args"]]
    args += ["--dtype", template["dtypes"][spec.dtype]]
    if spec.quantization:
        args += ["--quantization", spec.quantization]
    if needs_remote_code(spec, template["trust_remote_code_models"]):
        args.append("--trust-remote-code")
    model = load_template()["staged"]["model_mount_path"] if spec.weights_uri else spec.served_model
    variables = {"VLLM_MODEL": model, "VLLM_ARGS": " ".join(args)}
    if token and not spec.weights_uri:  # staged weights are mounted: the token never enters the deployment
        variables["HF_TOKEN"] = token
    return variables


def blob_location(uri: str) -> tuple[str, str, str]:
    """Return (storage account, container, prefix) of staged weights' Blob URL: https://ACCOUNT.blob.core.windows.net/
    CONTAINER/PREFIX, or the sandbox's http://127.0.0.1:PORT/blob/ACCOUNT/CONTAINER/PREFIX."""
    parts = urllib.parse.urlsplit(uri)
    path = parts.path.lstrip("/")
    host = parts.hostname or ""
    if host.endswith(BLOB_HOST):
        account = host.removesuffix(BLOB_HOST)
    elif path.startswith("blob/"):
        account, _, path = path.removeprefix("blob/").partition("/")
    else:
        raise InvalidInput(f"{uri} is not a Blob storage URL of staged weights", hint="stage with `cloudrun stage`")
    container, _, prefix = path.partition("/")
    return account, container, prefix


def datastore(spec: DeploySpec) -> dict[str, Any]:
    """Return the identity-based Blob datastore over cloudrun's weights container (how-to-datastore.md, 'Create an
    Azure Blob datastore', identity-based access: no credentials are stored in the workspace)."""
    account, container, _ = blob_location(spec.weights_uri)
    return {"name": container.replace("-", "_"), "account_name": account, "container_name": container,
            "description": "model weights staged by cloudrun", "tags": {MANAGED_TAG: "true"}}  # fmt: skip


def model_asset(spec: DeploySpec) -> dict[str, Any]:
    """Return the model asset that names the staged weights: a folder on cloudrun's datastore, in the
    azureml://datastores/NAME/paths/PATH form how-to-manage-models.md lists under 'Supported paths' (no https URL)."""
    staged = load_template()["staged"]
    _, _, prefix = blob_location(spec.weights_uri)
    path = f"azureml://datastores/{datastore(spec)['name']}/paths/{prefix}"
    return {"name": spec.name, "version": staged["model_version"], "path": path, "type": staged["model_type"],
            "tags": spec.tags, "description": f"{spec.served_model} staged by cloudrun"}  # fmt: skip


def probes(startup_estimate_s: int) -> tuple[dict[str, int], dict[str, int]]:
    """Return (readiness, liveness) probe settings sized to how long the model takes to come up.

    vLLM answers /health only once the weights are downloaded and loaded. Liveness restarts a container that fails
    it failure_threshold times in a row, so it starts only after the pessimistic estimate (with a margin, never
    under 10 minutes): a 67B still downloading is never killed and made to start over. Readiness starts within a
    minute and keeps trying for as long (failure_threshold x period), so a small model is marked ready as soon as it
    is, and a large one is not failed early (ResourceNotReady, how-to-troubleshoot-online-endpoints.md).
    """
    settings = load_template()["probes"]
    period, timeout = settings["period_s"], settings["timeout_s"]
    covered = max(settings["min_liveness_delay_s"], math.ceil(startup_estimate_s * settings["margin"]))
    liveness_delay = math.ceil(covered / 300) * 300  # whole 5 minutes
    readiness = {"initial_delay": settings["readiness_initial_delay_s"], "period": period, "timeout": timeout,
                 "failure_threshold": math.ceil(liveness_delay / period), "success_threshold": 1}  # fmt: skip
    liveness = {"initial_delay": liveness_delay, "period": period, "timeout": timeout, "failure_threshold": 10,
                "success_threshold": 1}  # fmt: skip
    return readiness, liveness


def requests(spec: DeploySpec, token: str | None, environ: Mapping[str, str] | None = None) -> list[Request]:
    """Return the (operation, params) calls that create the endpoint, its deployment and its traffic, in order."""
    template = load_template()
    deployment = template["deployment_name"]
    endpoint = {"name": spec.name, "auth_mode": "key", "tags": spec.tags}
    environment = {"image": image(environ), "inference_config": template["inference_config"]}
    readiness, liveness = probes(spec.startup_estimate_s)
    deployment_params = {
        "name": deployment,
        "endpoint_name": spec.name,
        "tags": spec.tags,
        "environment": environment,
        "environment_variables": environment_variables(spec, token),
        "instance_type": spec.instance_type,
        "instance_count": spec.instance_count,
        "request_settings": template["request_settings"],
        "readiness_probe": readiness,
        "liveness_probe": liveness,
    }
    if spec.weights_uri:  # the model asset (created first by the adapter) mounted where vLLM reads it
        staged = template["staged"]
        deployment_params["model"] = f"azureml:{spec.name}:{staged['model_version']}"
        deployment_params["model_mount_path"] = staged["model_mount_path"]
    return [
        ("online_endpoints.begin_create_or_update", endpoint),
        ("online_deployments.begin_create_or_update", deployment_params),
        ("online_endpoints.begin_create_or_update", {"name": spec.name, "traffic": {deployment: 100}}),
    ]
