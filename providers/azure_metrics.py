"""Azure Monitor requests for the Azure ML adapter: how many requests one online endpoint served.

What Azure documents:
- `RequestsPerMinute` of `Microsoft.MachineLearningServices/workspaces/onlineEndpoints` is "the number of requests
  sent to online endpoint within a minute", unit Count, time grain PT1M, and its only supported aggregation is
  **Average** (Azure Monitor supported metrics, microsoft-machinelearningservices-workspaces-onlineendpoints-
  metrics.md). Asking for another aggregation is not ignored: Azure answers with a per-metric error such as
  `InvalidSamplingType` inside an HTTP 200, or a 501 (azure-rest-api-specs monitor 2018-01-01 GetMetricError.json).
- The Metrics API (`GET {resource}/providers/Microsoft.Insights/metrics`, api-version 2018-01-01) answers
  value[].timeseries[].data[], one entry per interval of the timespan, each with a timeStamp and the asked
  aggregation; an interval without samples has no value at all (GetMetric.json; "NULL is different than a
  zero value", metrics-aggregation-explained.md).

So cloudrun asks for Average and counts requests as the sum over intervals of average x minutes per interval: at
PT1M the average is the minute's count; at coarser grains (windows over a day) it can only overestimate, which
is safe for the idle rule (only "more than zero" matters there). An interval without a value counts 0: the
metric is emitted per request, as SageMaker's and Vertex's are. Anything else unexpected (a metric error, a
missing structure, a JSON null, a value that is not a non-negative number) raises UnexpectedMetrics: unknown,
and the endpoint is kept.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from typing import Any

METRIC = "RequestsPerMinute"
AGGREGATION = "Average"
API_VERSION = "2018-01-01"
_GRAIN = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?$|^P(\d+)D$")


class UnexpectedMetrics(Exception):
    """Azure Monitor answered in a shape cloudrun does not know how to count: idleness unknown."""


def metrics_request(ml: Any, endpoint_name: str, since: datetime, now: datetime) -> tuple[str, dict[str, str]]:
    """Return the ARM path and query of RequestsPerMinute (Average) for one endpoint over [since, now]."""
    since = since if since.tzinfo else since.replace(tzinfo=timezone.utc)
    resource = (
        f"/subscriptions/{ml.subscription_id}/resourceGroups/{ml.resource_group_name}/providers/"
        f"Microsoft.MachineLearningServices/workspaces/{ml.workspace_name}/onlineEndpoints/{endpoint_name}"
    )
    params = {
        "api-version": API_VERSION,
        "metricnames": METRIC,
        # Whole minutes, the metric's grain, rounded outwards: a request early or late in a minute is never cut off.
        "timespan": f"{iso(since.replace(second=0, microsecond=0))}/{iso(_next_minute(now))}",
        "interval": interval((now - since).total_seconds()),
        "aggregation": AGGREGATION,
    }
    return f"{resource}/providers/Microsoft.Insights/metrics", params


def request_count(body: Any, asked_interval: str) -> int:
    """Return the requests a metrics answer counts (sum of average x minutes per interval); raise UnexpectedMetrics."""
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise UnexpectedMetrics("the metrics answer has no value list")
    metrics = [m for m in body["value"] if isinstance(m, dict) and (m.get("name") or {}).get("value") == METRIC]
    if len(metrics) != 1:
        raise UnexpectedMetrics(f"the metrics answer has {len(metrics)} {METRIC} entries, not one")
    metric = metrics[0]
    if metric.get("errorCode") not in (None, "Success"):
        raise UnexpectedMetrics(f"Azure Monitor: {metric.get('errorCode')}: {metric.get('errorMessage', '')}".strip())
    series = metric.get("timeseries")
    if not isinstance(series, list):
        raise UnexpectedMetrics(f"{METRIC} has no timeseries list")
    minutes = grain_minutes(str(body.get("interval") or asked_interval))
    total = 0.0
    for one in series:
        for point in (one or {}).get("data") or []:
            total += _requests_in(point) * minutes
    return math.ceil(total - 1e-9)


def _requests_in(point: Any) -> float:
    if not isinstance(point, dict) or "timeStamp" not in point:
        raise UnexpectedMetrics(f"a {METRIC} datapoint without a timeStamp: {point!r}")
    if "average" not in point:
        if any(key in point for key in ("total", "count", "minimum", "maximum")):
            raise UnexpectedMetrics(f"a {METRIC} datapoint with another aggregation than Average: {point!r}")
        return 0.0  # an interval without samples: no requests reported in it
    value = point["average"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise UnexpectedMetrics(f"a {METRIC} average that is not a count: {value!r}")
    return float(value)


def grain_minutes(grain: str) -> int:
    """Return the minutes of an ISO 8601 time grain such as PT1M, PT1H or P1D; raise UnexpectedMetrics otherwise."""
    found = _GRAIN.match(grain.strip().upper())
    if not found or not any(found.groups()):
        raise UnexpectedMetrics(f"unknown metrics interval {grain!r}")
    hours, minutes, days = (int(g) if g else 0 for g in found.groups())
    return days * 1440 + hours * 60 + minutes


def _next_minute(moment: datetime) -> datetime:
    floor = moment.replace(second=0, microsecond=0)
    return floor if floor == moment else floor + timedelta(minutes=1)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def interval(window_s: float) -> str:
    """Return an Azure Monitor interval that keeps a query to a few thousand points (1-minute data for a day)."""
    if window_s <= 86400:
        return "PT1M"
    return "PT1H" if window_s <= 31 * 86400 else "P1D"
