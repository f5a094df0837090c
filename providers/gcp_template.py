"""The Vertex AI requests that create one endpoint, rendered from templates/vertex-vllm.json.

Pure: no SDK and no network, so `deploy --dry-run` can show exactly what `create()` would send. The
dicts use the aiplatform_v1 field names, so the adapter hands them to the SDK's types unchanged.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from cloudrun.errors import InvalidInput
from cloudrun.models import DeploySpec
from cloudrun.pricing import shapes

from .common import REDACTED_TOKEN as REDACTED_TOKEN  # re-exported: the same redaction on every cloud
from .common import hf_token as hf_token
from .common import needs_remote_code

TEMPLATE = "vertex-vllm.json"
MODEL_PLACEHOLDER = "<model name returned by upload_model>"
ENDPOINT_PLACEHOLDER = "<endpoint name returned by create_endpoint>"

# Machine family -> the accelerator its machine types carry (the catalog's Vertex rows: g2, a2, a3).
# Checked longest prefix first. n1 machines take a T4/V100 as an option, so they would need the GPU
# model from the offer: not in the catalog yet, refused below rather than guessed.
_ACCELERATOR_BY_FAMILY = {
    "g2-standard-": "NVIDIA_L4",
    "a2-highgpu-": "NVIDIA_TESLA_A100",
    "a2-megagpu-": "NVIDIA_TESLA_A100",
    "a2-ultragpu-": "NVIDIA_A100_80GB",
    "a3-highgpu-": "NVIDIA_H100_80GB",
    "a3-edgegpu-": "NVIDIA_H100_80GB",
    "a3-megagpu-": "NVIDIA_H100_MEGA_80GB",
    "a3-ultragpu-": "NVIDIA_H200_141GB",
}
# The catalog's gpu_model column -> accelerator, for callers that have an Offer at hand.
ACCELERATOR_BY_GPU_MODEL = {
    "T4": "NVIDIA_TESLA_T4",
    "L4": "NVIDIA_L4",
    "A100": "NVIDIA_TESLA_A100",
    "A100-80": "NVIDIA_A100_80GB",
    "H100": "NVIDIA_H100_80GB",
    "H200": "NVIDIA_H200_141GB",
}
# Google's label rules: keys start with a lowercase letter; keys and values use lowercase letters,
# digits, '-' and '_' (international letters are allowed too, but cloudrun never makes them); <= 63 chars.
_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")

Request = tuple[str, dict[str, Any]]


@cache
def load_template() -> dict[str, Any]:
    """Return the vLLM serving template as shipped in the cloudrun.templates package."""
    return json.loads(resources.files("cloudrun.templates").joinpath(TEMPLATE).read_text(encoding="utf-8"))


def accelerator_type(machine_type: str) -> str:
    """Return the aiplatform_v1 AcceleratorType name for a Vertex machine type; InvalidInput if unknown."""
    for prefix in sorted(_ACCELERATOR_BY_FAMILY, key=len, reverse=True):
        if machine_type.startswith(prefix):
            return _ACCELERATOR_BY_FAMILY[prefix]
    known = ", ".join(f"{prefix}*" for prefix in _ACCELERATOR_BY_FAMILY)
    raise InvalidInput(f"cloudrun does not know which GPU the Vertex machine type {machine_type!r} carries",
                       hint=f"choose one of {known}")  # fmt: skip


def labels(spec: DeploySpec) -> dict[str, str]:
    """Return the spec's cloudrun labels, checked against Google's label rules (InvalidInput if broken)."""
    for key, value in spec.tags.items():
        if not _LABEL_KEY.match(key) or not _LABEL_VALUE.match(value):
            raise InvalidInput(
                f"label {key}={value} breaks Google's label rules",
                hint="deployment names may use lowercase letters, digits, '-' and '_', at most 63 characters",
            )
    return dict(spec.tags)


def container_spec(spec: DeploySpec, token: str | None) -> dict[str, Any]:
    """Return the model's ModelContainerSpec: the vLLM image, its args and environment for this spec.

    The checkpoint, dtype and quantization come from the spec (cloudrun.serving chose them for this GPU); shared
    memory is at most half the machine's RAM (it is reserved from the VM's memory, ModelContainerSpec).
    """
    template = load_template()
    values = {"model_id": spec.served_model, "tensor_parallel": spec.tensor_parallel, "context": spec.context}
    args = [arg.format(**values) for arg in template["args"]]
    if spec.weights_uri:  # Vertex copies artifact_uri and names the copy in AIP_STORAGE_URI; args may reference it
        args = [template["staged"]["model_arg"] if arg.startswith("--model=") else arg for arg in args]
    args.append(f"--dtype={template['dtypes'][spec.dtype]}")
    if spec.quantization:
        args.append(f"--quantization={spec.quantization}")
    if needs_remote_code(spec, template["trust_remote_code_models"]):
        args.append("--trust-remote-code")
    env = {name: value.format(**values) for name, value in template["env"].items()}
    if token and not spec.weights_uri:  # staged weights need no token: it never enters the model
        env["HF_TOKEN"] = token
    return {
        "image_uri": template["image"],
        "args": args,
        "env": [{"name": name, "value": value} for name, value in env.items()],
        "ports": [{"container_port": template["port"]}],
        "predict_route": template["predict_route"],
        "health_route": template["health_route"],
        "shared_memory_size_mb": shared_memory_mb(spec.instance_type),
        "deployment_timeout": {"seconds": template["deployment_timeout_s"]},
    }


def shared_memory_mb(machine_type: str) -> int:
    """Return the shared memory to ask for: Google's 16 GB, but never more than half the machine's RAM."""
    template = load_template()
    shape = shapes.for_provider("gcp").get(machine_type)
    if shape is None:
        raise InvalidInput(f"cloudrun does not know how much memory the Vertex machine type {machine_type!r} has",
                           hint="add it to templates/gpu_shapes.csv")  # fmt: skip
    # Compute Engine states machine memory in GB of 1024 MB (memory is set in MB, in multiples of 256)
    half = int(shape.memory_gb * 1024 * Decimal(str(template["shared_memory_share_of_ram"])))
    return min(int(template["shared_memory_size_mb"]), half)


def dedicated_resources(spec: DeploySpec) -> dict[str, Any]:
    """Return the DeployedModel's dedicated resources: machine, GPUs, a fixed replica count, spot or not."""
    machine = {
        "machine_type": spec.instance_type,
        "accelerator_type": accelerator_type(spec.instance_type),
        "accelerator_count": spec.gpu_count,
    }
    count = spec.instance_count
    return {"machine_spec": machine, "min_replica_count": count, "max_replica_count": count, "spot": spec.spot}


def requests(
    spec: DeploySpec, project: str, token: str | None, model_name: str = MODEL_PLACEHOLDER,
    endpoint_name: str = ENDPOINT_PLACEHOLDER,
) -> list[Request]:  # fmt: skip
    """Return the (method, request) calls that upload the model, create the endpoint and deploy, in order."""
    parent = f"projects/{project}/locations/{spec.region}"
    marks = labels(spec)
    resources_ = dedicated_resources(spec)  # first: a machine cloudrun cannot map to its GPU is refused as such
    model = {"display_name": spec.name, "labels": marks, "container_spec": container_spec(spec, token)}
    if spec.weights_uri:
        model["artifact_uri"] = spec.weights_uri
    deployed = {"model": model_name, "display_name": spec.name, "dedicated_resources": resources_}
    return [
        ("upload_model", {"parent": parent, "model": model}),
        ("create_endpoint", {"parent": parent, "endpoint": {"display_name": spec.name, "labels": marks}}),
        ("deploy_model", {"endpoint": endpoint_name, "deployed_model": deployed, "traffic_split": {"0": 100}}),
    ]
