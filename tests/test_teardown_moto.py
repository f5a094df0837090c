"""`cloudrun teardown`, `watch` and `down --all` on moto: CloudWatch invocations, tags, concurrency, Ctrl-C.

Endpoints are made "old" by moving the moto backend's creation_time back; moto drops datapoints stamped
in the current second, so invocations are seeded minutes in the past.
"""

from __future__ import annotations

import _thread
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws
from moto.sagemaker.models import sagemaker_backends
from typer.testing import CliRunner

from cloudrun import teardown
from cloudrun.cli import app
from cloudrun.errors import AuthError
from cloudrun.models import MANAGED_TAG, DeploymentStatus
from cloudrun.providers.aws import SageMakerProvider
from cloudrun.sandbox import aws as sandbox_aws
from cloudrun.sandbox.moto_types import widen_instance_types
from cloudrun.state import StateStore, limits
from cloudrun.teardown.idle import Policy
from tests.aws_fixtures import (
    ACCOUNT,
    REGION,
    ROLE_ARN,
    EmptyBody,
    arn,
    make_untagged_endpoint,
    put_invocations,
    spec,
)

runner = CliRunner()
IDLE_30M = Policy(idle_for=timedelta(minutes=30))
REGIONS = {"aws": [REGION]}


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("CLOUDRUN_SAGEMAKER_ROLE_ARN", ROLE_ARN)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    widen_instance_types()


@pytest.fixture
def moto(aws_env: None) -> Iterator[None]:
    with mock_aws():
        yield


def counting(deletes: list[str], after_delete: Callable[[], None] | None = None) -> Callable[[str, str], Any]:
    """A client factory whose SageMaker clients record each DeleteEndpoint sent (at the wire)."""

    def make(service: str, region: str) -> Any:
        client = boto3.client(service, region_name=region)

        def record(params: dict[str, Any], **_: Any) -> None:
            deletes.append(params["EndpointName"])

        def then(**_: Any) -> None:
            if after_delete:
                after_delete()

        client.meta.events.register("before-parameter-build.sagemaker.DeleteEndpoint", record)
        client.meta.events.register("after-call.sagemaker.DeleteEndpoint", then)
        return client

    return make


def adapter(**options: Any) -> SageMakerProvider:
    return SageMakerProvider(role_arn=ROLE_ARN, sleep=lambda _: None, **options)


def make_endpoint(name: str, *, age: timedelta = timedelta(hours=2), tagged: bool = True) -> None:
    """A SageMaker endpoint (tagged as cloudrun makes them, or by hand without tags), created `age` ago."""
    if tagged:
        adapter().create(spec(name))
    else:
        make_untagged_endpoint(name)
    endpoint = sagemaker_backends[ACCOUNT][REGION].endpoints[name]
    endpoint.creation_time = endpoint.creation_time - age


def the_four() -> None:
    """The issue's fleet: one idle tagged endpoint, one recently invoked, one young, one untagged."""
    make_endpoint("idle-one")
    make_endpoint("busy-one")
    make_endpoint("young-one", age=timedelta(minutes=5))
    make_endpoint("hand-made", tagged=False)
    put_invocations("busy-one", 3, minutes_ago=4)


def endpoint_names() -> set[str]:
    client = boto3.client("sagemaker", region_name=REGION)
    return {e["EndpointName"] for e in client.list_endpoints()["Endpoints"]}


def names(entries: list[dict[str, str]]) -> set[str]:
    return {entry["name"] for entry in entries}


# --- teardown --idle ----------------------------------------------------------------------------------


def test_teardown_removes_only_the_idle_tagged_endpoint(moto: None) -> None:
    the_four()
    result = runner.invoke(app, ["teardown", "--idle", "30m", "--yes", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert names(report["deleted"]) == {"idle-one"}
    assert names(report["failed"]) == set()
    kept = {entry["name"]: entry["reason"] for entry in report["kept"]}
    assert "3 invocations" in kept["busy-one"] and "less than the 30m idle window" in kept["young-one"]
    assert "hand-made" not in kept  # never even considered: no cloudrun tag
    assert endpoint_names() == {"busy-one", "young-one", "hand-made"}
    with StateStore() as state:
        assert state.get("idle-one").status is DeploymentStatus.deleted  # type: ignore[union-attr]
        assert "no invocations in the last 30m" in state.events("idle-one")[-1]["detail"]
        assert any(e["kind"] == "reaper" and e["detail"].startswith("delete [idle]") for e in state.events("idle-one"))


def test_dry_run_deletes_nothing(moto: None) -> None:
    the_four()
    result = runner.invoke(app, ["teardown", "--idle", "30m", "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    assert names(json.loads(result.stdout)["deleted"]) == {"idle-one"}
    assert endpoint_names() == {"idle-one", "busy-one", "young-one", "hand-made"}


def test_a_failing_deletion_lets_the_others_proceed_and_exits_non_zero(moto: None) -> None:
    make_endpoint("idle-one")
    make_endpoint("idle-two")
    assert runner.invoke(app, ["status", "--refresh", "--json"]).exit_code == 0  # both recorded (adopted)
    # someone then removed cloudrun's tag from idle-two's model: the adapter refuses to delete it (Conflict)
    boto3.client("sagemaker", region_name=REGION).delete_tags(
        ResourceArn=arn("model", "idle-two"), TagKeys=[MANAGED_TAG]
    )
    result = runner.invoke(app, ["teardown", "--idle", "30m", "--yes", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert names(report["deleted"]) == {"idle-one"}
    assert names(report["failed"]) == {"idle-two"} and "not managed by cloudrun" in report["failed"][0]["reason"]
    with StateStore() as state:  # given back, so the next check tries again
        assert state.get("idle-two").status is DeploymentStatus.in_service  # type: ignore[union-attr]


def test_an_unreachable_provider_is_reported_and_the_others_proceed(moto: None, tmp_path: Path) -> None:
    make_endpoint("idle-one")

    def load(name: str) -> Any:
        if name == "gcp":
            raise AuthError("no Google credentials")
        return adapter()

    both = {"aws": [REGION], "gcp": ["us-central1"]}
    with StateStore(tmp_path / "state.db") as state:
        report = teardown.check(state, load, IDLE_30M, regions=both)
        assert [o.name for o in report.deleted] == ["idle-one"]
        assert report.skipped == ["gcp: no Google credentials"] and report.ok  # nothing of ours lives there
        gcp_spec = spec("vertex-one", provider="gcp", service="vertex", region="us-central1")
        state.record_intent(gcp_spec, price_per_hour_usd=Decimal(1), price_source="test")
        report = teardown.check(state, load, IDLE_30M, regions=both)
    assert report.problems == ["gcp: no Google credentials"] and not report.ok  # vertex-one's fate is unknown


def test_unknown_metrics_keep_an_old_endpoint(moto: None, tmp_path: Path) -> None:
    make_endpoint("idle-one")

    def no_cloudwatch(service: str, region: str) -> Any:
        """CloudWatch refuses GetMetricStatistics (AccessDenied), answered before anything is sent."""
        client = boto3.client(service, region_name=region)
        denied = {
            "Error": {"Code": "AccessDenied", "Message": "not allowed"},
            "ResponseMetadata": {"HTTPStatusCode": 403},
        }
        answer = (AWSResponse("https://monitoring", 403, {}, EmptyBody()), denied)
        client.meta.events.register("before-call.cloudwatch.GetMetricStatistics", lambda **_: answer)
        return client

    with StateStore(tmp_path / "state.db") as state:
        report = teardown.check(state, lambda _: adapter(client_factory=no_cloudwatch), IDLE_30M, regions=REGIONS)
    assert not report.deleted and "missing evidence" in report.kept[0].reason
    assert endpoint_names() == {"idle-one"}


# --- two watchers, Ctrl-C, the panic button --------------------------------------------------------------


def test_two_watchers_on_one_state_file_never_delete_twice(moto: None, tmp_path: Path) -> None:
    idle = {f"idle-{n}" for n in range(6)}
    for name in sorted(idle):
        make_endpoint(name)  # orphans: both watchers adopt them, then race to delete
    deletes: list[str] = []
    reports: list[teardown.TeardownReport] = []
    start = threading.Barrier(2)

    def watcher() -> None:
        provider = adapter(client_factory=counting(deletes))
        with StateStore(tmp_path / "state.db") as state:
            start.wait()
            reports.append(teardown.check(state, lambda _: provider, IDLE_30M, regions=REGIONS, max_workers=3))

    threads = [threading.Thread(target=watcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(deletes) == sorted(idle)  # each endpoint deleted once, by one watcher
    first, second = ({o.name for o in r.deleted} for r in reports)
    assert first | second == idle and not first & second
    assert not reports[0].failed and not reports[1].failed
    with StateStore(tmp_path / "state.db") as state:
        assert {row.name for row in state.list(include_deleted=True) if row.status is DeploymentStatus.deleted} == idle


def test_ctrl_c_stops_after_the_deletion_under_way(moto: None, tmp_path: Path) -> None:
    for name in ("idle-a", "idle-b", "idle-c"):
        make_endpoint(name)
    deletes: list[str] = []
    provider = adapter(client_factory=counting(deletes, after_delete=_thread.interrupt_main))
    with StateStore(tmp_path / "state.db") as state:
        report = teardown.check(state, lambda _: provider, IDLE_30M, regions=REGIONS, max_workers=1)
        statuses = {row.name: row.status for row in state.list(include_deleted=True)}
    assert report.interrupted and len(report.deleted) == 1 and deletes == [report.deleted[0].name]
    assert sorted(o.reason for o in report.kept) == ["not started: interrupted (Ctrl-C)"] * 2
    assert sorted(statuses.values()) == [DeploymentStatus.deleted, DeploymentStatus.in_service,
                                         DeploymentStatus.in_service]  # fmt: skip
    assert len(endpoint_names()) == 2


def test_down_all_removes_every_tagged_endpoint_and_only_those(moto: None) -> None:
    the_four()
    result = runner.invoke(app, ["down", "--all", "--yes", "--json"])
    assert result.exit_code == 0, result.output
    assert names(json.loads(result.stdout)["deleted"]) == {"idle-one", "busy-one", "young-one"}
    assert endpoint_names() == {"hand-made"}


def test_a_look_alike_is_reported_once_never_recorded_and_later_checks_pass(moto: None) -> None:
    make_endpoint("idle-one")
    make_endpoint("lookalike")
    # someone put their own (untagged) model behind this tagged endpoint: cloudrun must neither delete nor record it
    boto3.client("sagemaker", region_name=REGION).delete_tags(ResourceArn=arn("model", "lookalike"),
                                                              TagKeys=[MANAGED_TAG])  # fmt: skip
    for attempt in range(2):  # the first teardown and every later one: exit 0, the look-alike named once
        result = runner.invoke(app, ["teardown", "--idle", "30m", "--yes", "--json"])
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        (refused,) = [note for note in report["refused"] if note.startswith("lookalike ")]
        assert "model lookalike has no cloudrun-managed tag" in refused
        assert names(report["deleted"]) == ({"idle-one"} if attempt == 0 else set())
        assert "lookalike" not in names(report["kept"]) | names(report["failed"])
    with StateStore() as state:
        assert state.get("lookalike") is None
    assert endpoint_names() == {"lookalike"}


@pytest.mark.parametrize("command", [["down", "--all"], ["teardown", "--idle", "30m"]])
def test_a_dry_run_adopts_nothing_and_says_what_it_would_adopt(moto: None, command: list[str]) -> None:
    make_endpoint("orphan")  # tagged, old and idle, and not recorded here

    result = runner.invoke(app, [*command, "--dry-run", "--json"])

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["dry_run"] and report["adopted"] == ["orphan"] and names(report["deleted"]) == {"orphan"}
    with StateStore() as state:
        assert state.list(include_deleted=True) == [] and state.events() == []
    assert endpoint_names() == {"orphan"}


def test_down_needs_a_name_or_all_but_not_both(moto: None) -> None:
    assert runner.invoke(app, ["down", "--yes"]).exit_code == 2
    assert runner.invoke(app, ["down", "x", "--all", "--yes"]).exit_code == 2


# --- watch: per-deployment limits ----------------------------------------------------------------------------


def record(state: StateStore, name: str, age: timedelta, price: str = "1.5") -> None:
    """Deploy through the adapter and record it as the deployer does, `age` ago."""
    at = datetime.now(timezone.utc) - age
    state.record_intent(spec(name), price_per_hour_usd=Decimal(price), price_source="test", now=at)
    state.mark_creating(name, adapter().create(spec(name)), now=at)
    state.mark_ready(name, now=at)


def test_watch_once_enforces_a_ttl(moto: None) -> None:
    with StateStore() as state:
        record(state, "short-lived", timedelta(hours=2))
        record(state, "long-lived", timedelta(hours=2))
        limits.set_limits(state, "short-lived", ttl=timedelta(hours=1))
        limits.set_limits(state, "long-lived", ttl=timedelta(hours=8))
    put_invocations("short-lived", 10, minutes_ago=2)  # busy does not matter: its time is up
    result = runner.invoke(app, ["watch", "--once", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert names(report["deleted"]) == {"short-lived"} and "--ttl 1h passed" in report["deleted"][0]["reason"]
    assert endpoint_names() == {"long-lived"}


def test_watch_once_enforces_max_spend_and_idle_timeout(moto: None) -> None:
    with StateStore() as state:
        record(state, "pricey", timedelta(hours=2), price="10")  # $20 so far
        record(state, "quiet", timedelta(hours=1))
        record(state, "chatty", timedelta(hours=1))
        limits.set_limits(state, "pricey", max_spend=Decimal(20))
        limits.set_limits(state, "quiet", idle_timeout=timedelta(minutes=15))
        limits.set_limits(state, "chatty", idle_timeout=timedelta(minutes=15))
        assert limits.limits(state, "quiet").idle_timeout == timedelta(minutes=15)
    put_invocations("pricey", 10, minutes_ago=2)
    put_invocations("chatty", 10, minutes_ago=2)
    result = runner.invoke(app, ["watch", "--once", "--json", "--interval", "1m"])
    report = json.loads(result.stdout)
    deleted = {entry["name"]: entry["reason"] for entry in report["deleted"]}
    assert set(deleted) == {"pricey", "quiet"} and "--max-spend $20" in deleted["pricey"]
    assert endpoint_names() == {"chatty"}


# --- the "done when": the CLI in a subprocess against moto's server ----------------------------------


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_done_when_teardown_against_moto_server(aws_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = sandbox_aws.start()
    try:
        for key, value in sandbox_aws.environment(server.url).items():
            monkeypatch.setenv(key, value)
        the_four()  # the server runs in this process: same moto backends, so ages can be set here
        env = {**os.environ, **sandbox_aws.environment(server.url), "CLOUDRUN_HOME": str(tmp_path / "home")}
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "cloudrun", "teardown", "--idle", "30m", "--yes", "--json"],
                              env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert names(report["deleted"]) == {"idle-one"}
        assert {"busy-one", "young-one"} <= names(report["kept"]) and not report["failed"]
        assert endpoint_names() == {"busy-one", "young-one", "hand-made"}
        assert time.monotonic() - started < 60
    finally:
        request = urllib.request.Request(f"{server.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - loopback
            pass
        server.stop()
