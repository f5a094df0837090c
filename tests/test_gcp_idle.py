"""Idle teardown on Vertex AI: cloudrun.teardown with the real adapter against the Vertex fake.

Endpoints are made "old" by moving the fake's createTime back (an adopted endpoint's age counts from it);
predictions are recorded in the fake at a chosen past time, and Cloud Monitoring's prediction_count is
built from them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from cloudrun import teardown
from cloudrun.models import DeploySpec, EndpointRef, EndpointState, Precision
from cloudrun.providers.gcp import VertexProvider
from cloudrun.sandbox import vertex_fake
from cloudrun.sandbox.vertex_fake import VertexSandbox
from cloudrun.state import StateStore
from cloudrun.teardown.idle import Policy

REGION = "us-central1"
IDLE_30M = Policy(idle_for=timedelta(minutes=30))
pytestmark = [pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[VertexSandbox]:
    sandbox = vertex_fake.start()
    for name, value in vertex_fake.environment(sandbox.url).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    yield sandbox
    sandbox.stop()


@pytest.fixture
def vertex(fake: VertexSandbox) -> VertexProvider:
    return VertexProvider(sleep=lambda _: None)


def deploy(vertex: VertexProvider, fake: VertexSandbox, name: str, age: timedelta) -> EndpointRef:
    """A cloudrun-labelled Vertex endpoint, in service, created `age` ago."""
    spec = DeploySpec(name=name, model_id="deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", provider="gcp", service="vertex",
                      region=REGION, instance_type="g2-standard-8", gpu_count=1, tensor_parallel=1, context=8192,
                      precision=Precision.bf16)  # fmt: skip
    ref = vertex.create(spec)
    vertex.describe(ref)  # the fake finishes an operation when it is next read: this describe does
    assert vertex.describe(ref).state is EndpointState.in_service
    fake.make_old(ref.endpoint_id, age)
    return ref


def test_teardown_idle_removes_the_unused_endpoint_and_keeps_the_used_and_the_young(vertex, fake, tmp_path: Path):
    deploy(vertex, fake, "idle-one", timedelta(hours=2))
    busy = deploy(vertex, fake, "busy-one", timedelta(hours=2))
    deploy(vertex, fake, "young-one", timedelta(minutes=5))
    fake.record_prediction(busy.endpoint_id, at=datetime.now(timezone.utc) - timedelta(minutes=10))
    with StateStore(tmp_path / "state.db") as state:
        report = teardown.check(state, lambda _: vertex, IDLE_30M, regions={"gcp": [REGION]})
    assert [o.name for o in report.deleted] == ["idle-one"] and not report.failed and report.ok
    kept = {o.name: o.reason for o in report.kept}
    assert "1 invocation in the last 30m" in kept["busy-one"]
    assert "less than the 30m idle window" in kept["young-one"]
    remaining = {record["labels"]["cloudrun-deployment"] for record in fake.state.endpoints.values()}
    assert remaining == {"busy-one", "young-one"} and len(fake.state.models) == 2


def test_unreadable_monitoring_keeps_an_old_endpoint(fake, tmp_path: Path):
    vertex = VertexProvider(sleep=lambda _: None, deadline_s=0)
    deploy(vertex, fake, "idle-one", timedelta(hours=2))
    fake.fail_next_request("/timeSeries", "PERMISSION_DENIED", "Permission monitoring.timeSeries.list denied")
    with StateStore(tmp_path / "state.db") as state:
        report = teardown.check(state, lambda _: vertex, IDLE_30M, regions={"gcp": [REGION]})
    assert not report.deleted and "missing evidence" in report.kept[0].reason
    assert len(fake.state.endpoints) == 1
