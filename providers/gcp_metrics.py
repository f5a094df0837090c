"""How much a Vertex endpoint was used, and how many GPUs the project may serve with: Cloud Monitoring and
Cloud Quotas, each read with one REST GET.

Why not their client libraries: google-cloud-monitoring (2.x) ships only gRPC transports (`transport="rest"`
is a KeyError), and no Cloud Quotas library is a dependency. The adapter runs every other Google call over
REST, so that the transport the tests drive against the fake is the one that runs in production; these two
GETs go through google-auth's AuthorizedSession with the adapter's credentials. `RestClient` looks like a
GAPIC client to the adapter's `_call` (request=, retry=, timeout=), never retries on its own, and raises the
google.api_core exception of Google's error reply, so errors are translated and retried as everywhere else.

Like gcp_resources, the functions below take `call` and never see the client.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from google.api_core import exceptions as google_errors
from google.auth.transport.requests import AuthorizedSession

from cloudrun.errors import CloudrunError, InvalidInput

from .gcp_resources import Call

MONITORING_URL = "https://monitoring.googleapis.com"
QUOTAS_URL = "https://cloudquotas.googleapis.com"
PREDICTION_COUNT = "aiplatform.googleapis.com/prediction/online/prediction_count"
ENDPOINT_RESOURCE = "aiplatform.googleapis.com/Endpoint"
SERVICE = "aiplatform.googleapis.com"
# AcceleratorType -> the Cloud Quotas id of its Vertex serving quota (GPUs per project per region). gcloud's map
# (googlecloudsdk/command_lib/ai/model_garden_utils.py _ACCELERATOR_TYPE_TO_QUOTA_ID_MAP) has T4 to H100; H200 is
# written out in GoogleCloudPlatform/vertex-ai-samples model_garden_pytorch_deepseek_deployment.ipynb ("H200s:
# CustomModelServingH200GPUsPerProjectPerRegion").
SERVING_QUOTA_IDS = {
    "NVIDIA_TESLA_T4": "CustomModelServingT4GPUsPerProjectPerRegion",
    "NVIDIA_L4": "CustomModelServingL4GPUsPerProjectPerRegion",
    "NVIDIA_TESLA_V100": "CustomModelServingV100GPUsPerProjectPerRegion",
    "NVIDIA_TESLA_A100": "CustomModelServingA100GPUsPerProjectPerRegion",
    "NVIDIA_A100_80GB": "CustomModelServingA10080GBGPUsPerProjectPerRegion",
    "NVIDIA_H100_80GB": "CustomModelServingH100GPUsPerProjectPerRegion",
    "NVIDIA_H200_141GB": "CustomModelServingH200GPUsPerProjectPerRegion",
}
# Spot (preemptible) serving draws on its own quotas, named by Google's notebook helper as
# f"CustomModelServingPreemptible{X}PerProjectPerRegion" for the same X (vertex-ai-samples notebooks/community/
# model_garden/docker_source_codes/notebook_util/common_util.py get_quota_id); the H100 and A100 ones are also written
# out in model_garden_xdit_wan2_2.ipynb. A quota id Cloud Quotas does not know reads as unknown, never as 0.
SPOT_QUOTA_IDS = {
    accelerator: quota.replace("CustomModelServing", "CustomModelServingPreemptible", 1)
    for accelerator, quota in SERVING_QUOTA_IDS.items()
}
_ENDPOINT_NAME = re.compile(r"projects/([^/]+)/locations/([^/]+)/endpoints/([^/]+)")


class RestClient:
    """The read-only Monitoring and Cloud Quotas methods cloudrun needs, over REST at `base_url`."""

    def __init__(self, base_url: str, credentials: Any) -> None:
        self._base = base_url.rstrip("/")
        self._session = AuthorizedSession(credentials)

    def list_time_series(self, request: dict[str, str], retry: Any = None, timeout: float | None = None) -> list[dict]:
        """Return every time series of projects.timeSeries.list, following its pages; `retry` is ignored."""
        params = {key: value for key, value in request.items() if key != "name"}
        found: list[dict] = []
        while True:
            page = self._get(f"v3/{request['name']}/timeSeries", params, timeout)
            found += page.get("timeSeries", [])
            if not page.get("nextPageToken"):
                return found
            params = {**params, "pageToken": page["nextPageToken"]}

    def get_quota_info(self, request: dict[str, str], retry: Any = None, timeout: float | None = None) -> dict:
        """Return one QuotaInfo (projects/P/locations/global/services/S/quotaInfos/ID); `retry` is ignored."""
        return self._get(f"v1/{request['name']}", {}, timeout)

    def _get(self, path: str, params: dict[str, str], timeout: float | None) -> dict:
        response = self._session.get(f"{self._base}/{path}", params=params, timeout=timeout)
        if response.status_code >= 400:
            raise google_errors.from_http_response(response)
        return response.json() if response.content else {}


def invocation_count(call: Call, endpoint_name: str, since: datetime, now: datetime) -> int:
    """Return the online predictions Monitoring counted for the endpoint in (since, now]; 0 without data.

    The project and endpoint id come from the name Vertex returned (projects/NUMBER/locations/L/endpoints/ID).
    """
    found = _ENDPOINT_NAME.fullmatch(endpoint_name)
    if not found:
        raise InvalidInput(f"{endpoint_name!r} is not a Vertex endpoint name (projects/P/locations/L/endpoints/ID)")
    project, location, endpoint_id = found.groups()
    request = {
        "name": f"projects/{project}",
        "filter": f'metric.type="{PREDICTION_COUNT}" AND resource.type="{ENDPOINT_RESOURCE}" '
        f'AND resource.labels.location="{location}" AND resource.labels.endpoint_id="{endpoint_id}"',
        "interval.startTime": _rfc3339(since),
        "interval.endTime": _rfc3339(now),
        "view": "FULL",
    }
    series = call("monitoring", "global", "list_time_series", request)
    return sum(_count(point) for one in series for point in one.get("points", []))


def serving_quota(call: Call, project: str, accelerator: str, spot: bool = False) -> dict[str, Any] | None:
    """Return the QuotaInfo of the project's Vertex serving quota (spot or not) for this GPU type, or None."""
    quota_id = (SPOT_QUOTA_IDS if spot else SERVING_QUOTA_IDS).get(accelerator)
    if quota_id is None:
        return None
    name = f"projects/{project}/locations/global/services/{SERVICE}/quotaInfos/{quota_id}"
    return call("quotas", "global", "get_quota_info", {"name": name})


def regional_value(info: dict[str, Any], region: str) -> int | None:
    """Return a QuotaInfo's value in force in `region` (a value of 0 is left out of Google's JSON), or None."""
    infos = info.get("dimensionsInfos") or []
    chosen = next((i for i in infos if (i.get("dimensions") or {}).get("region") == region), None)
    chosen = chosen or next((i for i in infos if region in (i.get("applicableLocations") or [])), None)
    if chosen is None:
        return None
    value = int((chosen.get("details") or {}).get("value") or 0)
    return value if value >= 0 else None  # a negative limit is not a GPU count: unknown


def _count(point: dict[str, Any]) -> int:
    value = point.get("value") or {}
    if "int64Value" in value:  # int64 values are JSON strings in Google's REST APIs
        return int(value["int64Value"])
    if "doubleValue" in value:
        return round(float(value["doubleValue"]))
    raise CloudrunError(f"unexpected prediction_count value {value!r}: expected an INT64 count")


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
