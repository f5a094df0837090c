"""CloudWatch requests for the SageMaker adapter: the Invocations metric of one endpoint.

SageMaker publishes `AWS/SageMaker` `Invocations` only for periods with requests, so no datapoints
means no calls. Builds requests and reads responses; the adapter sends them through its retry layer.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

MAX_DATAPOINTS = 1440  # CloudWatch's limit for one get_metric_statistics call


def invocations_request(endpoint_name: str, variant: str, since: datetime, now: datetime) -> dict[str, Any]:
    """Return get_metric_statistics parameters for the endpoint's Invocations sum over [since, now]."""
    return {
        "Namespace": "AWS/SageMaker",
        "MetricName": "Invocations",
        "Dimensions": [{"Name": "EndpointName", "Value": endpoint_name}, {"Name": "VariantName", "Value": variant}],
        "StartTime": since,
        "EndTime": now,
        "Period": period((now - since).total_seconds()),
        "Statistics": ["Sum"],
    }


def invocation_count(response: dict[str, Any]) -> int:
    """Return the summed Invocations of a get_metric_statistics response; 0 without datapoints."""
    return int(sum(point.get("Sum", 0) for point in response.get("Datapoints", [])))


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
