"""Make moto's SageMaker runtime and CloudWatch answer the way the real services do. Sandbox and tests only.

Two gaps in moto 5.x would let the idle rule pass against the sandbox and fail on AWS:
- `InvokeEndpoint` answers for any name (even an endpoint that does not exist) and publishes no metric. SageMaker
  publishes `AWS/SageMaker` `Invocations` (1 per request, dimensions EndpointName and VariantName, 1-minute
  frequency; SageMaker Developer Guide, monitoring-cloudwatch.html) and refuses an endpoint it does not have
  ("Endpoint X of account Y not found", a ValidationError). Here each call to an endpoint that is InService
  is counted on the variant that served it (its first production variant), and other calls are refused.
- `GetMetricStatistics` matches the asked dimensions as a subset, so asking with EndpointName alone would add
  all variants up. CloudWatch "treats each unique combination of dimensions as a separate metric. If a
  specific combination of dimensions was not published, you can't retrieve statistics for it" (botocore
  cloudwatch service-2.json, GetMetricStatistics Dimensions). Here the asked set must equal the published one.
  ListMetrics keeps moto's subset match, which is what the real DimensionFilter does.

Patches moto's classes for the whole process, like `moto_types.widen_instance_types`.
"""

from __future__ import annotations

import inspect
import threading
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

_MARK = "_cloudrun_metrics"
_LOCK = threading.Lock()  # the exact-dimension view is swapped in per call; moto's server runs threads


def emulate_invocation_metrics() -> None:
    """Make InvokeEndpoint count Invocations per variant, and GetMetricStatistics match dimension sets exactly."""
    from moto.cloudwatch.models import CloudWatchBackend
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

    if getattr(SageMakerRuntimeResponse, _MARK, False):
        return
    moto_invoke = SageMakerRuntimeResponse.invoke_endpoint
    moto_statistics = CloudWatchBackend.get_metric_statistics

    def invoke_endpoint(self: Any) -> Any:
        # moto 5.2 reads EndpointName from the body, where SageMaker's REST protocol never puts it: from the path.
        endpoint_name = unquote(self.path.split("?")[0].split("/")[2])
        variant = _serving_variant(self.current_account, self.region, endpoint_name)
        status, headers, body = moto_invoke(self)
        _count_invocation(self.current_account, self.region, endpoint_name, variant)
        return status, {**headers, "x-Amzn-Invoked-Production-Variant": variant}, body

    signature = inspect.signature(moto_statistics)

    def get_metric_statistics(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = signature.bind(self, *args, **kwargs)
        wanted = sorted((d["Name"], d.get("Value")) for d in call.arguments.get("dimensions") or [])
        # CloudWatch's EndTime "is exclusive; results include data points up to the specified time stamp" (the
        # GetMetricStatistics reference, botocore cloudwatch service-2.json): a datapoint stamped 12:34:00 is in a query
        # ending at 12:34:00.8. moto first truncates EndTime to the second (12:34:00) and would drop it: round up.
        end = call.arguments["end_time"]
        if end.microsecond:
            call.arguments["end_time"] = end.replace(microsecond=0) + timedelta(seconds=1)
        with _LOCK:  # the class's own method: never another call's view, swapped in on another server thread
            every = CloudWatchBackend.get_all_metrics
            self.get_all_metrics = lambda: [md for md in every(self) if _dimension_set(md) == wanted]
            try:
                return moto_statistics(*call.args, **call.kwargs)
            finally:
                del self.get_all_metrics

    SageMakerRuntimeResponse.invoke_endpoint = invoke_endpoint  # type: ignore[method-assign]
    CloudWatchBackend.get_metric_statistics = get_metric_statistics  # type: ignore[method-assign]
    setattr(SageMakerRuntimeResponse, _MARK, True)


def _dimension_set(datum: Any) -> list[tuple[str | None, str | None]]:
    return sorted((d.name, d.value) for d in datum.dimensions)


def _serving_variant(account_id: str, region: str, endpoint_name: str) -> str:
    """Return the variant that serves a call to the endpoint; raise SageMaker's ValidationError if it cannot."""
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import sagemaker_backends

    endpoint = sagemaker_backends[account_id][region].endpoints.get(endpoint_name)
    if endpoint is None:
        raise ValidationError(f"Endpoint {endpoint_name} of account {account_id} not found.")
    status = endpoint.response_object["EndpointStatus"]  # moto_lifecycle may still hold it in Creating
    if status != "InService":
        raise ValidationError(f"Endpoint {endpoint_name} of account {account_id} is {status}, not InService.")
    return endpoint.production_variants[0]["VariantName"]


def _count_invocation(account_id: str, region: str, endpoint_name: str, variant: str) -> None:
    from moto.cloudwatch.models import cloudwatch_backends

    dimensions = [{"Name": "EndpointName", "Value": endpoint_name}, {"Name": "VariantName", "Value": variant}]
    from moto.core.utils import utcnow  # moto keeps metric times as naive UTC

    minute = utcnow().replace(second=0, microsecond=0)  # 1-minute metrics carry the minute they aggregate
    datum = {"MetricName": "Invocations", "Value": 1.0, "Unit": "None", "Dimensions": dimensions, "Timestamp": minute}
    cloudwatch_backends[account_id][region].put_metric_data("AWS/SageMaker", [datum])
