"""The fake Azure ML's routes outside the workspace's resources: scoring an endpoint (with its key, the
way Azure ML's inference router does), Azure Monitor metrics for an endpoint, and the per-region vCPU
usages that quota reads. Each takes the FakeArm whose state it reads (see azure_fake_arm.py)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from cloudrun.sandbox.azure_fake_arm import FakeArm, Reply

CANNED_REPLY = "Hello from the cloudrun sandbox (fake Azure ML)."


def score(arm: FakeArm, path: str, headers: dict[str, str], body: bytes) -> Reply:
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


def metrics(arm: FakeArm, path: str, url: str) -> Reply:
    """Answer RequestsPerMinute for one endpoint: one datapoint per scored request inside the timespan."""
    name = path.split("/onlineEndpoints/")[-1].split("/")[0]
    timespan = parse_qs(urlsplit(url).query).get("timespan", [""])[0]
    start = _epoch(timespan.split("/")[0]) if "/" in timespan else 0.0
    calls = [t for t in arm.invocations.get(name, []) if t >= start]
    series = [{"timeStamp": time.strftime("%Y-%m-%dT%H:%M:00Z", time.gmtime(t)), "total": 1.0} for t in calls]
    metric = {"name": {"value": "RequestsPerMinute"}, "unit": "Count", "timeseries": [{"data": series}]}
    return 200, {}, {"value": [metric] if name in arm.endpoints else []}


def usages(arm: FakeArm, location: str) -> Reply:
    """Answer the subscription's Azure ML vCPU usages per VM family in `location` (from `arm.usages`)."""
    rows = [
        {
            "id": f"/subscriptions/{arm.subscription}/providers/Microsoft.MachineLearningServices/locations/"
            f"{location}/usages/{family}",
            "type": "Microsoft.MachineLearningServices/vmFamily/usages",
            "unit": "Count",
            "currentValue": current,
            "limit": limit,
            "name": {"value": family, "localizedValue": f"{family} Cluster Dedicated vCPUs"},
        }
        for family, (current, limit) in arm.usages.items()
    ]
    return 200, {}, {"value": rows}


def _epoch(iso: str) -> float:
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
