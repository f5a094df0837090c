"""Make moto's SageMaker endpoints start like real ones: Creating for a while, then InService, or Failed.

moto creates endpoints straight into InService, so a deploy never waits, a crash mid-wait cannot be reproduced,
and a request whose container could never start (a bf16 dtype on a T4, weights that do not fit) looks healthy.
`emulate_startup(seconds)` keeps each new endpoint in Creating for `seconds` (wall clock), then asks the sandbox's
container model (fake_vllm) whether its LMI container would serve: if not, the endpoint goes Failed with the reason
SageMaker gives for a container that never answers its ping ("did not pass the ping health check"), and the
container's own error goes to CloudWatch Logs under /aws/sagemaker/Endpoints/NAME, where SageMaker writes it.
Sandbox and tests only; patches moto's class for the whole process.
"""

from __future__ import annotations

import time
from typing import Any

from cloudrun.sandbox import fake_vllm

_MARK = "_cloudrun_startup"
_state = {"seconds": 0.0}
# What SageMaker says when the model data a model names cannot be downloaded (quoted in aws/amazon-sagemaker-examples
# and aws/sagemaker-python-sdk issues, e.g. sagemaker-python-sdk#1119).
MODEL_DATA_MISSING = (
    'Failed to download model data for container "container_1" from URL: "{uri}". Please ensure that there is an '
    "object located at the URL and that the role passed to CreateModel has permissions to download the object."
)
PING_FAILURE = (
    "The primary container for production variant {variant} did not pass the ping health check. "
    "Please check CloudWatch logs for this endpoint."
)


def emulate_startup(seconds: float) -> None:
    """Keep endpoints created from now on in Creating for `seconds`; calling again changes the duration."""
    from moto.sagemaker.models import FakeEndpoint

    _state["seconds"] = seconds
    if getattr(FakeEndpoint, _MARK, False):
        return
    moto_init = FakeEndpoint.__init__
    moto_summary = FakeEndpoint.summary
    moto_response = FakeEndpoint.response_object

    def __init__(self: Any, account_id: str, region_name: str, *args: Any, **kwargs: Any) -> None:  # noqa: N807
        moto_init(self, account_id, region_name, *args, **kwargs)
        self._cloudrun_ready_at = time.monotonic() + _state["seconds"]
        self._cloudrun_where = (account_id, region_name)
        self._cloudrun_error = _container_error(account_id, region_name, self.endpoint_config_name)
        if _state["seconds"] > 0:
            self.endpoint_status = "Creating"
        else:
            _advance(self)

    def _advance(self: Any) -> None:
        ready_at = getattr(self, "_cloudrun_ready_at", 0.0)
        if self.endpoint_status in ("Creating", "InService") and time.monotonic() >= ready_at:
            failure = getattr(self, "_cloudrun_error", None)
            if failure is None:
                self.endpoint_status = "InService"
                return
            variant, error = failure
            missing = error.startswith("Failed to download model data")
            reason = error if missing else PING_FAILURE.format(variant=variant)
            self.endpoint_status, self.failure_reason = "Failed", reason
            _log(*self._cloudrun_where, self.endpoint_name, variant, error)
            self._cloudrun_error = None

    def summary(self: Any) -> dict[str, Any]:
        _advance(self)
        return moto_summary(self)

    def response_object(self: Any) -> dict[str, Any]:
        _advance(self)
        return moto_response.fget(self)  # type: ignore[union-attr]

    FakeEndpoint.__init__ = __init__  # type: ignore[method-assign]
    FakeEndpoint.summary = summary  # type: ignore[method-assign]
    FakeEndpoint.response_object = property(response_object)  # type: ignore[assignment,method-assign]
    setattr(FakeEndpoint, _MARK, True)


def _container_error(account_id: str, region: str, config_name: str) -> tuple[str, str] | None:
    """Return (variant, error) for the first variant whose LMI container would not serve, else None."""
    from moto.sagemaker.models import sagemaker_backends

    backend = sagemaker_backends[account_id][region]
    config = backend.endpoint_configs.get(config_name)
    for variant in config.production_variants if config else []:
        model = backend._models.get(variant.get("ModelName", ""))  # moto keeps them private
        container = (model.primary_container if model else None) or {}
        image, environment = container.get("Image", ""), container.get("Environment") or {}
        source = (container.get("ModelDataSource") or {}).get("S3DataSource")
        if source:
            staged = _staged_model(account_id, source)
            if staged is None:
                return variant.get("VariantName", ""), MODEL_DATA_MISSING.format(uri=source.get("S3Uri", ""))
            environment = {**environment, "HF_MODEL_ID": staged}  # what /opt/ml/model holds, for the size checks
        launch = fake_vllm.lmi_launch(image, environment, variant.get("InstanceType", ""))
        error = launch if isinstance(launch, str) else fake_vllm.start(launch)
        if error:
            return variant.get("VariantName", ""), error
    return None


def _staged_model(account_id: str, source: dict[str, Any]) -> str | None:
    """Return the model id the staged manifest under an S3Prefix names, or None if the prefix holds no model (moto's
    S3 is the sandbox's bucket store: what `cloudrun stage` wrote there)."""
    import json

    from moto.s3.models import s3_backends

    uri = str(source.get("S3Uri", ""))
    if source.get("S3DataType") != "S3Prefix" or not uri.startswith("s3://") or not uri.endswith("/"):
        return None
    bucket_name, _, prefix = uri.removeprefix("s3://").partition("/")
    backends = s3_backends[account_id]
    backend = backends["aws"] if "aws" in backends else backends["global"]  # moto names S3's partition either way
    bucket = backend.buckets.get(bucket_name)
    manifest = bucket.keys.get(prefix + "cloudrun-manifest.json") if bucket else None
    if manifest is None:
        return None
    try:
        return str(json.loads(manifest.value)["model_id"])
    except (ValueError, KeyError):
        return None


def _log(account_id: str, region: str, endpoint: str, variant: str, error: str) -> None:
    """Write the container's last words where SageMaker puts them: /aws/sagemaker/Endpoints/NAME."""
    from moto.logs.models import logs_backends

    logs = logs_backends[account_id][region]
    group = f"/aws/sagemaker/Endpoints/{endpoint}"
    if group not in logs.groups:
        logs.create_log_group(group, {})
    stream = f"{variant}/i-0cloudrunsandbox"
    if stream not in logs.groups[group].streams:
        logs.create_log_stream(group, stream)
    now = int(time.time() * 1000)
    lines = ["INFO ModelServer: Starting djl-serving", f"ERROR PyProcess: {error}", "ERROR ModelServer: load failed"]
    logs.put_log_events(group, stream, [{"timestamp": now + i, "message": line} for i, line in enumerate(lines)])
