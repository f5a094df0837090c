"""The Azure ML requests that create one endpoint, rendered from templates/azureml-vllm.json.

Pure: no SDK and no network, so `deploy --dry-run` can show exactly what `create()` would send; the
adapter turns these parameters into azure-ai-ml entities (ManagedOnlineEndpoint, ManagedOnlineDeployment,
Environment) only when it runs.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from cloudrun.errors import InvalidInput
from cloudrun.models import DeploySpec

from .aws_template import REDACTED_TOKEN, hf_token

TEMPLATE = "azureml-vllm.json"
NAME_RULE = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
"""Endpoint and deployment names: 3-32 characters, letters, digits and '-', starting with a letter, not ending
with '-' (Azure ML checks this locally in the SDK and again in the service); cloudrun's names are lowercase."""

Request = tuple[str, dict[str, Any]]

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


def stock_image_problem(sandbox: bool) -> str | None:
    """Return why the stock vLLM image cannot serve a model on Azure ML (None in the sandbox or with a wrapper)."""
    if not sandbox and image() == load_template()["image"]:
        return (
            "Azure ML passes no container arguments, so the stock vLLM image cannot be told which model to "
            "serve: build the two-line wrapper image in docs/azure.md once and set CLOUDRUN_AZUREML_IMAGE"
        )
    return None


def environment_variables(spec: DeploySpec, token: str | None) -> dict[str, str]:
    """Return the container's environment: the model and vLLM's arguments (no args field exists on Azure ML)."""
    template = load_template()
    values = {"model_id": spec.model_id, "tensor_parallel": spec.tensor_parallel, "context": spec.context}
    args = [arg.format(**values) for arg in template["vllm_args"]]
    if any(re.search(pattern, spec.model_id, re.IGNORECASE) for pattern in template["trust_remote_code_models"]):
        args.append("--trust-remote-code")
    variables = {"VLLM_MODEL": spec.model_id, "VLLM_ARGS": " ".join(args)}
    if token:
        variables["HF_TOKEN"] = token
    return variables


def requests(spec: DeploySpec, token: str | None, environ: Mapping[str, str] | None = None) -> list[Request]:
    """Return the (operation, params) calls that create the endpoint, its deployment and its traffic, in order."""
    template = load_template()
    deployment = template["deployment_name"]
    endpoint = {"name": spec.name, "auth_mode": "key", "tags": spec.tags}
    environment = {"image": image(environ), "inference_config": template["inference_config"]}
    deployment_params = {
        "name": deployment,
        "endpoint_name": spec.name,
        "tags": spec.tags,
        "environment": environment,
        "environment_variables": environment_variables(spec, token),
        "instance_type": spec.instance_type,
        "instance_count": spec.instance_count,
        "request_settings": template["request_settings"],
        "readiness_probe": template["readiness_probe"],
        "liveness_probe": template["liveness_probe"],
    }
    return [
        ("online_endpoints.begin_create_or_update", endpoint),
        ("online_deployments.begin_create_or_update", deployment_params),
        ("online_endpoints.begin_create_or_update", {"name": spec.name, "traffic": {deployment: 100}}),
    ]
