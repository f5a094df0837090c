"""The SageMaker requests that create one endpoint, rendered from templates/sagemaker-lmi.json.

Pure: no SDK and no network, so `deploy --dry-run` can show exactly what `create()` would send.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from cloudrun.errors import InvalidInput
from cloudrun.models import DeploySpec

from .common import HF_TOKEN_VARIABLES as HF_TOKEN_VARIABLES  # re-exported
from .common import REDACTED_TOKEN as REDACTED_TOKEN
from .common import hf_token as hf_token
from .common import needs_remote_code

TEMPLATE = "sagemaker-lmi.json"
VARIANT_NAME = "main"

Request = tuple[str, dict[str, Any]]


@cache
def load_template() -> dict[str, Any]:
    """Return the LMI template as shipped in the cloudrun.templates package."""
    return json.loads(resources.files("cloudrun.templates").joinpath(TEMPLATE).read_text(encoding="utf-8"))


def image_uri(region: str) -> str:
    """Return the LMI image in `region`'s registry (accounts from the SDK's djl-lmi.json); InvalidInput if none."""
    template = load_template()
    account = template["registries"].get(region)
    if account is None:
        raise InvalidInput(
            f"no LMI serving image is published for SageMaker in {region!r}",
            hint=f"choose one of: {', '.join(sorted(template['registries']))}",
        )
    return template["image"].format(account=account, region=region)


def registry_accounts() -> list[str]:
    """Return every AWS account that publishes the LMI image in some region (for the execution role's ECR pull)."""
    return sorted(set(load_template()["registries"].values()))


def container(spec: DeploySpec, token: str | None) -> dict[str, Any]:
    """Return the model's PrimaryContainer: the LMI image and its environment for this spec.

    The checkpoint, dtype and quantization come from the spec (cloudrun.serving chose them for this GPU): LMI passes
    OPTION_DTYPE and OPTION_QUANTIZE to vLLM (vllm_rb_properties.py); a pre-quantized checkpoint gets no
    OPTION_QUANTIZE, so vLLM reads its method (and picks Marlin kernels) itself.
    """
    template = load_template()
    values = {
        "region": spec.region,
        "model_id": spec.served_model,
        "tensor_parallel": spec.tensor_parallel,
        "context": spec.context,
    }
    environment = {key: value.format(**values) for key, value in template["environment"].items()}
    staged = template["staged"]
    if spec.weights_uri:  # SageMaker copies the prefix into /opt/ml/model before the container starts
        environment[staged["model_env"]] = staged["model_dir"]
    environment[template["dtype_env"]] = template["dtypes"][spec.dtype]
    if spec.quantization:
        environment[template["quantization_env"]] = spec.quantization
    if needs_remote_code(spec, template["trust_remote_code_models"]):
        environment["OPTION_TRUST_REMOTE_CODE"] = "true"
    container = {"Image": image_uri(spec.region), "Environment": environment}
    if spec.weights_uri:
        container["ModelDataSource"] = {"S3DataSource": {"S3Uri": spec.weights_uri, **staged["s3_data_source"]}}
    elif token:  # only a Hub download needs it: staged weights never put the token in the model's environment
        environment["HF_TOKEN"] = token
    return container


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
