"""Azure ML idle evidence: Azure Monitor's RequestsPerMinute, Average-only as Azure documents, never a guess.

The real MLClient and the adapter's ARM GET against the fake ARM server (https on loopback), which answers the
Metrics API the way Azure does: Average only (another aggregation is a per-metric InvalidSamplingType error),
one datapoint per interval, no value in an interval without requests.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from cloudrun.models import DeploymentStatus, EndpointRef
from cloudrun.providers import azure_metrics
from cloudrun.providers.azure import AzureMLProvider
from cloudrun.providers.azure_client import arm_get
from cloudrun.sandbox import azure_fake
from cloudrun.teardown.idle import Candidate, find_idle
from tests.test_azure_adapter import azure_env  # noqa: F401 - the fixture

pytestmark = [pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]
NAME = "busy-ep"


@pytest.fixture
def sandbox(azure_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[azure_fake.AzureSandbox]:  # noqa: F811
    fake = azure_fake.start()
    for name, value in azure_fake.environment(fake).items():
        monkeypatch.setenv(name, value)
    fake.arm.add_endpoint(NAME, tags={"cloudrun-managed": "true", "cloudrun-deployment": NAME})
    yield fake
    fake.stop()


def adapter() -> AzureMLProvider:
    return AzureMLProvider(sleep=lambda _: None, deadline_s=0.5)


def ref() -> EndpointRef:
    return EndpointRef(provider="azure", region="eastus", name=NAME, endpoint_id=NAME)


def minutes_ago(minutes: float) -> datetime:
    return datetime.now(timezone.utc) - timedelta(minutes=minutes)


def test_thirty_requests_a_minute_is_busy_not_zero(sandbox):
    for minute in range(1, 11):  # 30 requests a minute for the last ten minutes
        sandbox.arm.record_requests(NAME, time.time() - minute * 60, count=30)
    count = adapter().invocations(ref(), minutes_ago(30))
    assert count == 300
    candidate = Candidate(name=NAME, provider="azure", region="eastus", status=DeploymentStatus.in_service,
                          since=minutes_ago(60), created_at=minutes_ago(60), price_per_hour_usd=Decimal(1),
                          cost_so_far_usd=Decimal(1))  # fmt: skip
    (decision,) = find_idle([candidate], {NAME: count}, datetime.now(timezone.utc), timedelta(minutes=30))
    assert not decision.delete and decision.rule == "active"


def test_what_the_first_cut_asked_for_is_refused_by_azure(sandbox):
    """Asking for Total (the first cut) gets InvalidSamplingType: read as a count of 0, that deleted busy endpoints."""
    sandbox.arm.record_requests(NAME, time.time() - 120, count=30)
    provider = adapter()
    path, params = azure_metrics.metrics_request(provider._ml(), NAME, minutes_ago(30), datetime.now(timezone.utc))
    body = arm_get(provider._target, provider._token_credential(), path, {**params, "aggregation": "Total"})
    (metric,) = body["value"]
    assert metric["errorCode"] == "InvalidSamplingType" and metric["timeseries"] == []
    with pytest.raises(azure_metrics.UnexpectedMetrics, match="InvalidSamplingType"):
        azure_metrics.request_count(body, params["interval"])


def test_only_average_is_asked_for_and_quiet_minutes_have_no_value(sandbox):
    sandbox.arm.record_requests(NAME, time.time() - 300, count=2)
    provider = adapter()
    path, params = azure_metrics.metrics_request(provider._ml(), NAME, minutes_ago(30), datetime.now(timezone.utc))
    assert params["aggregation"] == "Average" and params["metricnames"] == "RequestsPerMinute"
    body = arm_get(provider._target, provider._token_credential(), path, params)
    data = body["value"][0]["timeseries"][0]["data"]
    assert len(data) >= 30 and sum(1 for point in data if "average" in point) == 1
    assert provider.invocations(ref(), minutes_ago(30)) == 2


def test_no_requests_in_the_window_is_zero(sandbox):
    sandbox.arm.record_requests(NAME, time.time() - 7200, count=5)  # two hours ago: outside the window
    assert adapter().invocations(ref(), minutes_ago(30)) == 0


def answer(*points: dict) -> dict:
    """A metrics answer with one RequestsPerMinute series holding these datapoints."""
    return {"value": [{"name": {"value": "RequestsPerMinute"}, "timeseries": [{"data": list(points)}]}]}


@pytest.mark.parametrize(
    "status, document",
    [
        (503, {"error": {"code": "ServiceUnavailable", "message": "try later"}}),  # an outage, after our retries
        (200, {"value": []}),  # no metric at all
        (200, {"value": [{"name": {"value": "RequestsPerMinute"}, "errorCode": "Success"}]}),  # no timeseries
        (200, answer({"timeStamp": "2026-11-30T10:00:00Z", "average": None})),  # an explicit null
        (200, answer({"timeStamp": "2026-11-30T10:00:00Z", "total": 30.0})),  # another aggregation than asked
        (200, answer({"average": 3.0})),  # a datapoint without its time
    ],
    ids=["outage", "no-metric", "no-timeseries", "null", "total-only", "no-timestamp"],
)
def test_anything_unexpected_is_unknown_and_kept(sandbox, status, document):
    sandbox.arm.faults.metrics.append((status, document))
    provider = AzureMLProvider(sleep=lambda _: None, deadline_s=0)  # one attempt: the retry layer gives up at once
    assert provider.invocations(ref(), minutes_ago(30)) is None
    assert any(f"requests of {NAME} unknown" in notice for notice in provider.notices)


def test_coarser_grains_never_undercount():
    body = {"interval": "PT1H", "value": [{"name": {"value": "RequestsPerMinute"}, "errorCode": "Success",
            "timeseries": [{"data": [{"timeStamp": "2026-11-30T10:00:00Z", "average": 0.5}]}]}]}  # fmt: skip
    assert azure_metrics.request_count(body, "PT1H") == 30
    assert azure_metrics.grain_minutes("P1D") == 1440 and azure_metrics.grain_minutes("PT5M") == 5
    with pytest.raises(azure_metrics.UnexpectedMetrics):
        azure_metrics.grain_minutes("PT1S")
