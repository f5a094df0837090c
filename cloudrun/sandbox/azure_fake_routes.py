"""The fake Azure ML's routes outside the workspace's resources: scoring an endpoint (with its key, the
way Azure ML's inference router does), Azure Monitor metrics for an endpoint, and the per-region vCPU
usages that quota reads. Each takes the fake's state it reads (azure_fake_state.py; azure_fake_arm.py calls them)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime

from cloudrun.sandbox.azure_fake_state import ArmState, Reply, arm_error
from cloudrun.sandbox.http_fake import query_params

CANNED_REPLY = "Hello from the cloudrun sandbox (fake Azure ML)."


def score(arm: ArmState, path: str, headers: dict[str, str], body: bytes) -> Reply:
    """Answer a chat completion with the canned reply, if the key is right and traffic goes to a deployment."""
    name = path.split("/")[2]
    arm.settle()
    if name not in arm.endpoints:
        return 404, {}, {"message": f"endpoint {name} not found"}
    if headers.get("authorization", "") != f"Bearer {arm.keys[name]}":
        return 401, {}, {"message": "Invalid authentication: the endpoint key is missing or wrong."}
    traffic = arm.endpoints[name]["properties"].get("traffic") or {}
    if not any(int(v) for v in traffic.values()):
        return 424, {}, {"message": "No valid deployments to route to: set traffic to a deployment."}
    request = json.loads(body or b"{}")
    arm.invocations.setdefault(name, []).append(time.time())
    return (
        200,
        {},
        {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "model": request.get("model", "sandbox"),
            "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": CANNED_REPLY}}
            ],
            "usage": {"prompt_tokens": 8, "completion_tokens": 9, "total_tokens": 17},
        },
    )


def metrics(arm: ArmState, path: str, url: str) -> Reply:
    """Answer Azure Monitor's Metrics API for one endpoint as Azure does (api-version 2018-01-01).

    RequestsPerMinute supports only the Average aggregation (supported-metrics list for onlineEndpoints): any
    other asked aggregation gets the per-metric InvalidSamplingType error inside an HTTP 200 (GetMetricError.json).
    The answer has one datapoint per interval of the timespan; an interval without requests has no value at all,
    an interval with some has `average` = requests per minute over the minutes that had requests (Sum/Count).
    """
    name = path.split("/onlineEndpoints/")[-1].split("/")[0]
    if name not in arm.endpoints:
        return arm_error(404, "ResourceNotFound", f"The Resource '{name}' was not found.")
    query = query_params(url)
    if query.get("metricnames") != "RequestsPerMinute":
        return arm_error(400, "BadRequest", f"Failed to find metric configuration for {query.get('metricnames')}.")
    grain = query.get("interval", "PT1M")
    step = _GRAINS.get(grain.upper())
    timespan = query.get("timespan", "")
    if step is None or "/" not in timespan:
        return arm_error(400, "BadRequest", f"Invalid interval {grain!r} or timespan {timespan!r}.")
    start, end = (_epoch(part) for part in timespan.split("/", 1))
    asked = [a.strip().lower() for a in query.get("aggregation", "Average").split(",") if a.strip()]
    metric = {"id": f"{path}/RequestsPerMinute", "type": "Microsoft.Insights/metrics", "unit": "Count",
              "name": {"value": "RequestsPerMinute", "localizedValue": "Requests Per Minute"}}  # fmt: skip
    if any(a != "average" for a in asked):
        wrong = next(a for a in asked if a != "average")
        metric.update(
            timeseries=[],
            errorCode="InvalidSamplingType",
            errorMessage=f"Sampling type is not found. Metric:RequestsPerMinute, SamplingType:{wrong}.",
        )
    else:
        metric.update(timeseries=[{"metadatavalues": [], "data": _series(arm.invocations.get(name, []), start,
                                                                         end, step)}], errorCode="Success")  # fmt: skip
    document = {"cost": 0, "timespan": timespan, "interval": grain, "value": [metric],
                "namespace": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
                "resourceregion": arm.location}  # fmt: skip
    return 200, {}, document


_GRAINS = {"PT1M": 60, "PT5M": 300, "PT15M": 900, "PT30M": 1800, "PT1H": 3600, "PT6H": 21600, "PT12H": 43200,
           "P1D": 86400}  # fmt: skip


def _series(calls: list[float], start: float, end: float, step: int) -> list[dict[str, object]]:
    per_minute: dict[int, int] = {}
    for at in calls:
        if start <= at < end:
            per_minute[int(at // 60) * 60] = per_minute.get(int(at // 60) * 60, 0) + 1
    points = []
    for begin in range(int(start // step) * step, int(end), step):
        counts = [n for minute, n in per_minute.items() if begin <= minute < begin + step]
        point: dict[str, object] = {"timeStamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(begin))}
        if counts:
            point["average"] = sum(counts) / len(counts)
        points.append(point)
    return points


def usages(arm: ArmState, location: str) -> Reply:
    """Answer the subscription's Azure ML vCPU usages in `location` (from `arm.usages`), as the API shapes them.

    Each family row comes twice, as in the API's own example: once as the subscription's vmFamily usage (the
    quota) and once as the workspace's usage of it, which must not be counted again.
    """
    prefix = f"/subscriptions/{arm.subscription}/providers/Microsoft.MachineLearningServices/locations/{location}"
    rows = []
    for family, (current, limit) in arm.usages.items():
        key = family.replace(" ", "_")
        for kind in ("vmFamily", "workspaces"):
            rows.append({"id": f"{prefix}/usages/{key}", "type": f"Microsoft.MachineLearningServices/{kind}/usages",
                         "unit": "Count", "currentValue": current if kind == "vmFamily" else 0,
                         "limit": limit if kind == "vmFamily" else -1,
                         "name": {"value": family, "localizedValue": family}})  # fmt: skip
    return 200, {}, {"value": rows}


def _epoch(iso: str) -> float:
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
