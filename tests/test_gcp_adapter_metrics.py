"""The Vertex AI adapter's reads beyond the lifecycle, against the stateful fake in cloudrun.sandbox: sandbox
credentials, invocations (Cloud Monitoring's online prediction count) and quota (Cloud Quotas), all over REST.

Lifecycle, failures and error mapping: test_gcp_adapter.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
import requests

from cloudrun.errors import InvalidInput
from cloudrun.models import EndpointRef, EndpointState
from cloudrun.providers.gcp import VertexProvider
from cloudrun.sandbox import vertex_fake
from cloudrun.sandbox.vertex_fake import PROJECT_NUMBER, VertexSandbox
from tests.gcp_fixtures import REGION, loopback, spec, start_fake, wait_until


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[VertexSandbox]:
    sandbox = start_fake(monkeypatch)
    yield sandbox
    sandbox.stop()


@pytest.fixture
def vertex(fake: VertexSandbox) -> VertexProvider:
    return VertexProvider(sleep=lambda _: None)


# --- sandbox safety ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["https://us-central1-aiplatform.googleapis.com", "http://10.0.0.5:8080", None])
def test_sandbox_credentials_are_refused_off_this_machine(monkeypatch, endpoint):
    monkeypatch.setenv("CLOUDRUN_SANDBOX_CREDENTIALS", "1")
    if endpoint:
        monkeypatch.setenv("CLOUDRUN_VERTEX_API_ENDPOINT", endpoint)
    else:
        monkeypatch.delenv("CLOUDRUN_VERTEX_API_ENDPOINT", raising=False)
    with pytest.raises(InvalidInput, match="only for a Vertex endpoint on this machine"):
        VertexProvider()


def test_the_sandbox_environment_is_loopback_only():
    with pytest.raises(InvalidInput):
        vertex_fake.environment("http://example.com:80")
    env = vertex_fake.environment("http://127.0.0.1:9999")
    assert env["CLOUDRUN_SANDBOX_CREDENTIALS"] == "1" and env["NO_GCE_CHECK"] == "true"


@loopback
def test_sandbox_mode_reads_metrics_and_quota_from_the_local_fake_only(vertex, fake):
    ref = vertex.create(spec())
    assert vertex.invocations(ref, since=an_hour_ago()) == 0
    assert vertex.quota("g2-standard-8", REGION) == vertex_fake.QUOTAS["CustomModelServingL4GPUsPerProjectPerRegion"]
    assert vertex.check().credentials_ok and vertex.check().identity == "sandbox (anonymous)"
    paths = [path for _, path in fake.state.seen]
    assert "/v3/projects/123456789012/timeSeries" in paths  # Monitoring, asked on the fake's port
    assert any(path.endswith("/quotaInfos/CustomModelServingL4GPUsPerProjectPerRegion") for path in paths)


def an_hour_ago() -> datetime:
    return datetime.now(timezone.utc) - timedelta(hours=1)


# --- invocations: Cloud Monitoring's online prediction count, over REST, from the fake ----------------------


def ready_endpoint(vertex: VertexProvider, name: str = "r1-7b") -> EndpointRef:
    ref = vertex.create(spec(name))
    assert wait_until(vertex, ref, EndpointState.in_service).state is EndpointState.in_service
    return ref


def half_an_hour_ago() -> datetime:
    return datetime.now(timezone.utc) - timedelta(minutes=30)


@loopback
def test_a_fresh_endpoint_has_zero_invocations(vertex, fake):
    ref = ready_endpoint(vertex)
    assert vertex.invocations(ref, half_an_hour_ago()) == 0  # no time series at all: no calls
    assert vertex.notices == []


@loopback
def test_invocations_count_every_prediction_of_this_endpoint(vertex, fake):
    ref = ready_endpoint(vertex)
    for _ in range(3):
        vertex.invoke(ref, {"messages": [{"role": "user", "content": "hello"}]})
    other = ref.endpoint_id.rsplit("/", 1)[0] + "/999"
    fake.record_prediction(other)  # another endpoint's traffic is not ours
    assert vertex.invocations(ref, half_an_hour_ago()) == 3


@loopback
def test_a_prediction_before_since_is_not_counted(vertex, fake):
    ref = ready_endpoint(vertex)
    now = datetime.now(timezone.utc)
    fake.record_prediction(ref.endpoint_id, at=now - timedelta(minutes=40), count=5)
    assert vertex.invocations(ref, now - timedelta(minutes=30)) == 0
    fake.record_prediction(ref.endpoint_id, at=now - timedelta(minutes=10), count=2)
    assert vertex.invocations(ref, now - timedelta(minutes=30)) == 2
    assert vertex.invocations(ref, now - timedelta(hours=1)) == 7


@loopback
def test_the_count_is_read_over_rest_by_the_returned_project_number_and_endpoint_id(vertex, fake):
    ref = ready_endpoint(vertex)
    vertex.invocations(ref, half_an_hour_ago())
    asked = [(path, query) for method, path, query in fake.state.seen_queries if path.endswith("/timeSeries")]
    assert len(asked) == 1  # no SDK retries
    path, query = asked[0]
    endpoint_id = ref.endpoint_id.rsplit("/", 1)[1]
    assert path == f"/v3/projects/{PROJECT_NUMBER}/timeSeries"
    assert f'resource.labels.endpoint_id="{endpoint_id}"' in query["filter"]
    assert 'metric.type="aiplatform.googleapis.com/prediction/online/prediction_count"' in query["filter"]
    assert 'resource.type="aiplatform.googleapis.com/Endpoint"' in query["filter"]
    assert query["interval.startTime"].endswith("Z") and query["interval.endTime"].endswith("Z")


@loopback
@pytest.mark.parametrize(
    ("status", "message", "hint"),
    [
        ("PERMISSION_DENIED", "Permission monitoring.timeSeries.list denied on resource", "roles/monitoring.viewer"),
        ("UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE"),
    ],
)
def test_a_monitoring_error_leaves_the_count_unknown(fake, status, message, hint):
    vertex = VertexProvider(sleep=lambda _: None, deadline_s=0)  # no time for our retry layer
    ref = ready_endpoint(vertex)
    fake.record_prediction(ref.endpoint_id)
    fake.fail_next_request("/timeSeries", status, message)
    assert vertex.invocations(ref, half_an_hour_ago()) is None
    assert hint in vertex.notices[-1]


@loopback
def test_a_transient_monitoring_error_is_retried_by_our_layer(vertex, fake):
    ref = ready_endpoint(vertex)
    fake.record_prediction(ref.endpoint_id)
    fake.fail_next_request("/timeSeries", "UNAVAILABLE", "The service is currently unavailable.")
    assert vertex.invocations(ref, half_an_hour_ago()) == 1
    assert len([p for _, p in fake.state.seen if p.endswith("/timeSeries")]) == 2


def test_an_endpoint_name_that_is_not_vertexs_leaves_the_count_unknown():
    provider = VertexProvider(client_factory=lambda *_: pytest.fail("no client expected"), project="p")
    ref = EndpointRef(provider="gcp", region=REGION, name="odd", endpoint_id="endpoints/42")
    assert provider.invocations(ref, half_an_hour_ago()) is None


@loopback
def test_the_fake_serves_time_series_shaped_like_monitoring_by_project_id_or_number(fake):
    endpoint = f"projects/{PROJECT_NUMBER}/locations/{REGION}/endpoints/77"
    now = datetime.now(timezone.utc)
    fake.record_prediction(endpoint, at=now - timedelta(minutes=3), count=3)
    params = {
        "filter": 'metric.type="aiplatform.googleapis.com/prediction/online/prediction_count" '
        'AND resource.labels.endpoint_id="77"',
        "interval.startTime": (now - timedelta(minutes=30)).isoformat().replace("+00:00", "Z"),
        "interval.endTime": now.isoformat().replace("+00:00", "Z"),
    }
    for project in ("cloudrun-sandbox", PROJECT_NUMBER):
        (series,) = requests.get(f"{fake.url}/v3/projects/{project}/timeSeries", params=params, timeout=5).json()[
            "timeSeries"
        ]
        assert (series["metricKind"], series["valueType"]) == ("DELTA", "INT64")
        assert series["resource"] == {"type": "aiplatform.googleapis.com/Endpoint", "labels": {
            "resource_container": PROJECT_NUMBER, "location": REGION, "endpoint_id": "77"}}  # fmt: skip
        assert [point["value"] for point in series["points"]] == [{"int64Value": "3"}]  # int64 as a JSON string
    params["filter"] = params["filter"].replace('"77"', '"78"')
    assert requests.get(f"{fake.url}/v3/projects/p/timeSeries", params=params, timeout=5).json() == {}


# --- quota: Cloud Quotas' serving GPU quota per region, in machines --------------------------------------------

L4_QUOTA = "CustomModelServingL4GPUsPerProjectPerRegion"


@loopback
def test_quota_is_the_regions_gpu_quota_divided_by_the_machines_gpus(vertex, fake):
    fake.set_quota(L4_QUOTA, REGION, 6)
    fake.set_quota(L4_QUOTA, "europe-west4", 0)  # Google leaves a 0 value out of its JSON
    machines = ["g2-standard-8", "g2-standard-24", "g2-standard-48", "g2-standard-96"]
    assert [vertex.quota(machine, REGION) for machine in machines] == [6, 3, 1, 0]
    assert vertex.quota("g2-standard-8", "europe-west4") == 0
    assert vertex.quota("g2-standard-8", "mars-central1") is None  # no quota listed there: unknown
    asked = [path for _, path in fake.state.seen if "/quotaInfos/" in path]
    assert asked == [f"/v1/projects/cloudrun-sandbox/locations/global/services/aiplatform.googleapis.com"
                     f"/quotaInfos/{L4_QUOTA}"]  # fmt: skip  # one read per GPU type, every region in it


@loopback
def test_spot_reads_the_preemptible_serving_quota(fake):
    vertex = VertexProvider(sleep=lambda _: None, deadline_s=0)
    fake.set_quota("CustomModelServingPreemptibleL4GPUsPerProjectPerRegion", REGION, 2)
    assert vertex.quota("g2-standard-8", REGION, spot=True) == 2
    assert vertex.quota("a3-highgpu-8g", REGION, spot=True) == 0  # the sandbox project has no spot H100s
    assert vertex.quota("a3-ultragpu-8g", REGION, spot=True) is None  # not in the shape table: unknown
    asked = {path.rsplit("/", 1)[-1] for _, path in fake.state.seen if "/quotaInfos/" in path}
    assert "CustomModelServingPreemptibleL4GPUsPerProjectPerRegion" in asked


@loopback
def test_quota_is_unknown_for_unmapped_machines_and_unreadable_quotas(fake):
    vertex = VertexProvider(sleep=lambda _: None, deadline_s=0)
    assert vertex.quota("n1-standard-8", REGION) is None
    fake.fail_next_request("/quotaInfos/", "PERMISSION_DENIED", "Permission cloudquotas.quotas.get denied")
    assert vertex.quota("g2-standard-8", REGION) is None
    assert "quota" in vertex.notices[-1]
