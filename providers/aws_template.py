"""The SageMaker requests that create one endpoint, rendered from templates/sagemaker-lmi.json.

Pure: no SDK and no network, so `deploy --dry-run` can show exactly what `create()` would send.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from cloudrun.models import DeploySpec

TEMPLATE = "sagemaker-lmi.json"
VARIANT_NAME = "main"
HF_TOKEN_VARIABLES = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")
REDACTED_TOKEN = "<copied from $HF_TOKEN at create time>"

Request = tuple[str, dict[str, Any]]


@cache
def load_template() -> dict[str, Any]:
    """Return the LMI template as shipped in the cloudrun.templates package."""
    return json.loads(resources.files("cloudrun.templates").joinpath(TEMPLATE).read_text(encoding="utf-8"))


def hf_token(environ: Mapping[str, str] | None = None) -> str | None:
    """Return the Hugging Face token from the environment (for gated models), or None if unset."""
    environ = os.environ if environ is None else environ
    return next((environ[name] for name in HF_TOKEN_VARIABLES if environ.get(name)), None)


def container(spec: DeploySpec, token: str | None) -> dict[str, Any]:
    """Return the model's PrimaryContainer: the LMI image and its environment for this spec."""
    template = load_template()
    values = {
        "region": spec.region,
        "model_id": spec.model_id,
        "tensor_parallel": spec.tensor_parallel,
        "context": spec.context,
    }
    environment = {key: value.format(**values) for key, value in template["environment"].items()}
    # fp8/int8/int4 checkpoints carry their quantisation in config.json: vLLM picks the dtype itself.
    dtype = template["dtype_by_precision"].get(spec.precision.value)
    if dtype:
        environment["OPTION_DTYPE"] = dtype
    if any(re.search(pattern, spec.model_id, re.IGNORECASE) for pattern in template["trust_remote_code_models"]):
        environment["OPTION_TRUST_REMOTE_CODE"] = "true"
    if token:
        environment["HF_TOKEN"] = token
    return {"Image": template["image"].format(**values), "Environment": environment}


def requests(spec: DeploySpec, role_arn: str, token: str | None) -> list[Request]:
    """Return the (operation, params) calls that create the model, endpoint config and endpoint, in order."""
    tags = [{"Key": key, "Value": value} for key, value in spec.tags.items()]
    variant = {
        "VariantName": VARIANT_NAME,
        "ModelName": spec.name,
        "InstanceType": spec.instance_type,
        "InitialInstanceCount": spec.instance_count,
        **load_template()["production_variant"],
    }
    model = {
        "ModelName": spec.name,
        "ExecutionRoleArn": role_arn,
        "PrimaryContainer": container(spec, token),
        "Tags": tags,
    }
    return [
        ("create_model", model),
        ("create_endpoint_config", {"EndpointConfigName": spec.name, "ProductionVariants": [variant], "Tags": tags}),
        ("create_endpoint", {"EndpointName": spec.name, "EndpointConfigName": spec.name, "Tags": tags}),
    ]
