"""CloudWatch and Service Quotas reads for the SageMaker adapter: the Invocations of one endpoint over every variant
it has, the tail of its containers' logs when it failed, and the account's endpoint quotas.

What AWS documents (SageMaker Developer Guide, monitoring-cloudwatch.html, "Endpoint Invocation Metrics"):
`AWS/SageMaker` `Invocations` is "the number of InvokeEndpoint requests sent to a model endpoint", published at a
1-minute frequency, valid statistic Sum, and its only dimension set is `EndpointName, VariantName`. CloudWatch
keeps "each unique combination of dimensions as a separate metric" and does not add variants up (GetMetricStatistics,
botocore cloudwatch service-2.json), so a query with EndpointName alone finds nothing, and a query with a variant
name the endpoint does not have (the SageMaker Python SDK's default is "AllTraffic", console updates choose their
own) finds nothing either. So each variant is asked for separately and the sums are added.

Which variants: those DescribeEndpoint lists now (ProductionVariants, and PendingDeploymentSummary's during an
update), plus those ListMetrics knows for the endpoint (variants that served in the last two weeks but have
since been replaced; ListMetrics can lag new metrics by up to 15 minutes, which the DescribeEndpoint names
cover). Missing data: SageMaker emits Invocations per request, so no datapoints in the window means no calls (0).
Anything else unexpected (no variant at all, a datapoint without a Sum) makes the count unknown (None): the
teardown keeps the endpoint. Builds requests and reads responses; the adapter sends them through its retry layer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from .aws_resources import pages

NAMESPACE = "AWS/SageMaker"
METRIC = "Invocations"
MAX_DATAPOINTS = 1440  # CloudWatch's limit for one get_metric_statistics call

Call = Callable[..., Any]
"""(service, region, operation, params) -> the SDK's response, errors translated (the adapter's `_call`)."""


class UnexpectedMetrics(Exception):
    """CloudWatch or SageMaker answered in a shape cloudrun does not know how to count: idleness unknown."""


def variant_names(description: dict[str, Any]) -> set[str]:
    """Return the variant names a DescribeEndpoint response has now or is moving to (an update under way)."""
    pending = description.get("PendingDeploymentSummary") or {}
    variants = [*(description.get("ProductionVariants") or []), *(pending.get("ProductionVariants") or [])]
    names = {variant.get("VariantName") for variant in variants}
    if None in names or "" in names:
        raise UnexpectedMetrics("DescribeEndpoint listed a production variant without a VariantName")
    return names  # type: ignore[return-value]


def list_metrics_request(endpoint_name: str) -> dict[str, Any]:
    """Return ListMetrics parameters for every Invocations metric of this endpoint (any variant)."""
    return {"Namespace": NAMESPACE, "MetricName": METRIC,
            "Dimensions": [{"Name": "EndpointName", "Value": endpoint_name}]}  # fmt: skip


def listed_variants(metrics: Iterable[dict[str, Any]], endpoint_name: str) -> set[str]:
    """Return the VariantName of every listed Invocations metric whose EndpointName is this endpoint."""
    names = set()
    for metric in metrics:
        dimensions = {d.get("Name"): d.get("Value") for d in metric.get("Dimensions") or []}
        if dimensions.get("EndpointName") == endpoint_name and dimensions.get("VariantName"):
            names.add(dimensions["VariantName"])
    return names


def invocations_request(endpoint_name: str, variant: str, since: datetime, now: datetime) -> dict[str, Any]:
    """Return get_metric_statistics parameters for one variant's Invocations sum over [since, now]."""
    # Datapoints carry the minute they aggregate: start at that minute, so a call early in it is not missed.
    start = since.replace(second=0, microsecond=0)
    return {
        "Namespace": NAMESPACE,
        "MetricName": METRIC,
        "Dimensions": [{"Name": "EndpointName", "Value": endpoint_name}, {"Name": "VariantName", "Value": variant}],
        "StartTime": start,
        "EndTime": now,
        "Period": period((now - start).total_seconds()),
        "Statistics": ["Sum"],
    }


def invocation_count(response: dict[str, Any]) -> int:
    """Return the summed Invocations of a get_metric_statistics response; 0 without datapoints.

    Raises UnexpectedMetrics for a datapoint without a numeric Sum (a shape SageMaker does not send).
    """
    if not isinstance(response.get("Datapoints", []), list):
        raise UnexpectedMetrics("get_metric_statistics answered without a Datapoints list")
    total = Decimal(0)
    for point in response.get("Datapoints", []):
        value = point.get("Sum") if isinstance(point, dict) else None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise UnexpectedMetrics(f"an Invocations datapoint without a usable Sum: {point!r}")
        total += Decimal(str(value))
    return int(total)


def endpoint_invocations(call: Call, region: str, endpoint_name: str, since: datetime, now: datetime) -> int:
    """Return the Invocations of every variant of the endpoint over [since, now], added up.

    Raises the adapter's translated errors (the caller turns them into "unknown"), or UnexpectedMetrics.
    """
    described = call("sagemaker", region, "describe_endpoint", {"EndpointName": endpoint_name})
    variants = variant_names(described)
    listed = pages(call, "cloudwatch", region, "list_metrics", list_metrics_request(endpoint_name), "Metrics")
    variants |= listed_variants(listed, endpoint_name)
    if not variants:
        raise UnexpectedMetrics(f"endpoint {endpoint_name} has no production variant to read Invocations of")
    return sum(
        invocation_count(call("cloudwatch", region, "get_metric_statistics",
                              invocations_request(endpoint_name, variant, since, now)))
        for variant in sorted(variants)
    )  # fmt: skip


LOG_LINES = 20


def log_tail(call: Call, region: str, endpoint_name: str) -> str | None:
    """Return the last lines the endpoint's containers logged (/aws/sagemaker/Endpoints/NAME), or None if unreadable.

    SageMaker writes each container's output there ("Please check CloudWatch logs for this endpoint", its failure
    reason for a container that never answered its ping); reading needs logs:FilterLogEvents. Best effort.
    """
    params = {"logGroupName": f"/aws/sagemaker/Endpoints/{endpoint_name}", "limit": 1000}
    try:
        events = call("logs", region, "filter_log_events", params).get("events") or []
    except Exception:  # noqa: BLE001 - no permission, no group yet, unreachable: the failure reason stands alone
        return None
    lines = [str(e.get("message", "")).rstrip() for e in sorted(events, key=lambda e: e.get("timestamp", 0))]
    return "\n".join(lines[-LOG_LINES:]) or None


def period(window_s: float) -> int:
    """Return a CloudWatch period (s) that covers the window in at most 1440 datapoints.

    CloudWatch keeps 1-minute data for 15 days, 5-minute data for 63 days, then hourly.
    """
    seconds = 60 * max(1, math.ceil(window_s / 60 / MAX_DATAPOINTS))
    if window_s > 63 * 86400:
        return max(3600, math.ceil(seconds / 3600) * 3600)
    if window_s > 15 * 86400:
        return max(300, math.ceil(seconds / 300) * 300)
    return seconds


def quota_table(call: Call, region: str, operation: str) -> dict[str, int]:
    """Return {quota name: value} of SageMaker in `region` from Service Quotas (`list_service_quotas` gives applied
    values only; a quota never changed shows only in `list_aws_default_service_quotas`)."""
    quotas = pages(call, "service-quotas", region, operation, {"ServiceCode": "sagemaker"}, "Quotas")
    return {q["QuotaName"]: int(q["Value"]) for q in quotas}
