"""One delete path: `down`, rollback, teardown, watch and `down --all` claim, delete, then settle or release.

moto in process with the real adapter; failures are injected at the adapter's client factory (botocore events),
so a DeleteEndpoint really fails at the wire. A property test drives random failure sequences through the
claims against a small in-memory cloud (the provider seam) and checks no row is ever left in `deleting`.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
import sqlalchemy as sa
from botocore.awsrequest import AWSResponse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from cloudrun import api, teardown
from cloudrun.errors import CloudrunError, Conflict, Transient
from cloudrun.models import DeploymentStatus, Endpoint, EndpointRef, EndpointState
from cloudrun.provider import Provider
from cloudrun.sandbox.moto_types import widen_instance_types
from cloudrun.state import StateStore
from cloudrun.state import deletions as claims
from cloudrun.teardown.idle import Policy
from tests.aws_fixtures import REGION, ROLE_ARN, EmptyBody, fake_credentials, spec

NO_RULES = Policy()  # no idle rule, no caps: only unfinished deletions are acted on
REGIONS = {"aws": [REGION]}


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    fake_credentials(monkeypatch, tmp_path, CLOUDRUN_SAGEMAKER_ROLE_ARN=ROLE_ARN)
    widen_instance_types()
    with mock_aws():
        yield


class FlakyDeletes:
    """A client factory whose DeleteEndpoint answers 503 while `failing` is set (at the wire, before sending)."""

    def __init__(self) -> None:
        self.failing = False

    def __call__(self, service: str, region: str) -> Any:
        client = boto3.client(service, region_name=region)

        def maybe_fail(**_: Any) -> Any:
            if not self.failing:
                return None
            error = {"Error": {"Code": "ServiceUnavailable", "Message": "try later"},
                     "ResponseMetadata": {"HTTPStatusCode": 503}}  # fmt: skip
            return AWSResponse("https://sagemaker", 503, {}, EmptyBody()), error

        client.meta.events.register("before-call.sagemaker.DeleteEndpoint", maybe_fail)
        return client


def loader(factory: FlakyDeletes) -> Any:
    return api.provider_loader({"aws": {"client_factory": factory, "sleep": lambda _: None, "deadline_s": 0}})


def deployed(state: StateStore, factory: FlakyDeletes, name: str) -> None:
    """Record and create an endpoint the way deploy does (intent, create, creating, in service)."""
    state.record_intent(spec(name), price_per_hour_usd=Decimal(1), price_source="test")
    ref = loader(factory)("aws").create(spec(name))
    state.mark_creating(name, ref)
    state.mark_ready(name)


def endpoints() -> set[str]:
    return {e["EndpointName"] for e in boto3.client("sagemaker", region_name=REGION).list_endpoints()["Endpoints"]}


def test_a_failed_down_is_given_back_and_finished_by_the_next_teardown(moto, database_url):
    flaky = FlakyDeletes()
    with StateStore(url=database_url) as state:
        deployed(state, flaky, "ds")
        flaky.failing = True
        with pytest.raises(Transient, match="could not remove ds") as failure:
            api.down(state, loader(flaky), "ds")
        assert "tries again" in (failure.value.hint or "")
        assert state.get("ds").status is DeploymentStatus.in_service  # given back, not stuck in deleting
        assert claims.pending(state)["ds"].last_error and "ds" in endpoints()

        flaky.failing = False
        report = teardown.check(state, loader(flaky), NO_RULES, regions=REGIONS)
        assert [o.name for o in report.deleted] == ["ds"] and "retrying 'cloudrun down'" in report.deleted[0].reason
        assert state.get("ds").status is DeploymentStatus.deleted and claims.pending(state) == {}
    assert "ds" not in endpoints()


def test_a_failed_down_is_also_finished_by_down_again(moto, database_url):
    flaky = FlakyDeletes()
    with StateStore(url=database_url) as state:
        deployed(state, flaky, "ds")
        flaky.failing = True
        with pytest.raises(CloudrunError):
            api.down(state, loader(flaky), "ds")
        flaky.failing = False
        assert api.down(state, loader(flaky), "ds").deployment.status is DeploymentStatus.deleted
        kinds = [e["kind"] for e in state.events("ds")]
    assert kinds[-3:] == ["delete_failed", "deleting", "deleted"]


def test_down_killed_mid_delete_is_finished_by_the_next_run(moto, database_url):
    """kill -9 between the claim and the settle: the holder's pid is gone, so its claim is stale at once."""
    flaky = FlakyDeletes()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with StateStore(url=database_url) as state:
        deployed(state, flaky, "ds")
        assert claims.claim(state, "ds", "cloudrun down").deployment is not None
        with state.transaction() as conn:  # as the killed `down` left it: its own pid on the claim
            conn.execute(sa.text("UPDATE deletions SET owner = :owner WHERE name = 'ds'"),
                         {"owner": f"{claims.me().rsplit(':', 1)[0]}:{dead.pid}"})  # fmt: skip
        assert state.get("ds").status is DeploymentStatus.deleting
        report = teardown.check(state, loader(flaky), NO_RULES, regions=REGIONS)
        assert [o.name for o in report.deleted] == ["ds"] and "stopped part-way" in report.deleted[0].reason
    assert "ds" not in endpoints()


def test_a_live_claim_is_respected_and_a_stale_one_taken_over(database_url):
    with StateStore(url=database_url) as state:
        state.record_intent(spec("ds"), price_per_hour_usd=Decimal(1), price_source="test")
        state.mark_creating("ds", EndpointRef(provider="aws", region=REGION, name="ds", endpoint_id="ds"))
        now = datetime.now(timezone.utc)
        assert claims.claim(state, "ds", "idle", now=now).deployment is not None
        with state.transaction() as conn:  # another machine holds it
            conn.exec_driver_sql("UPDATE deletions SET owner = 'elsewhere:1' WHERE name = 'ds'")
        refused = claims.claim(state, "ds", "cloudrun down", now=now + timedelta(minutes=1))
        assert refused.deployment is None and "being deleted by another cloudrun (elsewhere:1" in refused.why_not
        later = now + claims.LEASE + timedelta(seconds=1)
        taken = claims.claim(state, "ds", "cloudrun down", now=later)
        assert taken.deployment is not None and claims.pending(state)["ds"].attempts == 2
        assert claims.pending(state)["ds"].reason == "idle"  # the first ask is what the row remembers


def test_down_of_a_row_another_process_is_deleting_is_a_conflict(moto, database_url):
    flaky = FlakyDeletes()
    with StateStore(url=database_url) as state:
        deployed(state, flaky, "ds")
        claims.claim(state, "ds", "idle")
        with state.transaction() as conn:
            conn.exec_driver_sql("UPDATE deletions SET owner = 'elsewhere:1' WHERE name = 'ds'")
        with pytest.raises(Conflict, match="being deleted by another cloudrun"):
            api.down(state, loader(flaky), "ds")
    assert "ds" in endpoints()


def test_down_of_a_deploy_cut_short_before_its_create_removes_the_record(moto, database_url):
    with StateStore(url=database_url) as state:
        state.record_intent(spec("ds"), price_per_hour_usd=Decimal(1), price_source="test")
        assert api.down(state, loader(FlakyDeletes()), "ds").deployment.status is DeploymentStatus.deleted


# --- property: no sequence of failures leaves a row in `deleting` ----------------------------------------


class MemoryCloud(Provider):
    """The provider seam as an in-memory cloud: endpoints by name, a delete that fails while `failing`."""

    name, service, extra = "aws", "sagemaker", "aws"

    def __init__(self) -> None:
        self.endpoints: set[str] = set()
        self.failing = False

    def delete(self, ref: EndpointRef) -> None:
        if self.failing:
            raise Transient("the cloud is down")
        self.endpoints.discard(ref.endpoint_id)

    def list_managed(self, regions: Any) -> list[Endpoint]:
        return [Endpoint(ref=EndpointRef(provider="aws", region=REGION, name=n, endpoint_id=n),
                         state=EndpointState.in_service, tags={"cloudrun-managed": "true", "cloudrun-deployment": n})
                for n in sorted(self.endpoints)]  # fmt: skip

    def describe(self, ref: EndpointRef) -> Endpoint:
        from cloudrun.errors import NotFound

        if ref.endpoint_id not in self.endpoints:
            raise NotFound(ref.endpoint_id)
        return self.list_managed([])[sorted(self.endpoints).index(ref.endpoint_id)]

    def check(self) -> Any:
        raise AssertionError("not used")

    def quota(self, instance_type: str, region: str, *, spot: bool = False) -> int | None:
        return None

    def create(self, spec: Any) -> EndpointRef:
        raise AssertionError("not used")

    def render_requests(self, spec: Any) -> list:
        return []

    def invoke(self, ref: EndpointRef, payload: dict) -> dict:
        return {}

    def invocations(self, ref: EndpointRef, since: datetime) -> int | None:
        return None


STEPS = st.lists(
    st.tuples(
        st.sampled_from(["down", "teardown", "down_all", "crash", "cloud_down", "cloud_up"]),
        st.sampled_from(["a", "b", "c"]),
    ),  # fmt: skip
    max_size=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_no_sequence_of_failures_leaves_a_row_deleting(new_database, steps):
    cloud = MemoryCloud()
    dead = f"{claims.me().rsplit(':', 1)[0]}:999999999"  # a pid no process has
    with StateStore(url=new_database()) as state:
        for name in "abc":
            state.record_intent(spec(name), price_per_hour_usd=Decimal(1), price_source="test")
            state.mark_creating(name, EndpointRef(provider="aws", region=REGION, name=name, endpoint_id=name))
            state.mark_ready(name)
            cloud.endpoints.add(name)
        asked: set[str] = set()
        for step, name in steps:
            row = state.get(name)
            if step == "cloud_down":
                cloud.failing = True
            elif step == "cloud_up":
                cloud.failing = False
            elif step == "down" and row.status not in (DeploymentStatus.deleted, DeploymentStatus.vanished):
                asked.add(name)
                with contextlib.suppress(CloudrunError):
                    api.down(state, lambda _: cloud, name)
            elif step == "crash" and claims.claim(state, name, "cloudrun down").deployment is not None:
                asked.add(name)  # claimed, then the process died before it could delete or give it back
                with state.transaction() as conn:
                    conn.execute(sa.text("UPDATE deletions SET owner = :dead WHERE name = :name"),
                                 {"dead": dead, "name": name})  # fmt: skip
            elif step == "teardown":
                teardown.check(state, lambda _: cloud, NO_RULES, regions=REGIONS)
            elif step == "down_all":
                asked.update(r.name for r in state.list() if r.status in claims.BILLABLE)
                teardown.down_all(state, lambda _: cloud, regions=REGIONS)
        cloud.failing = False
        teardown.check(state, lambda _: cloud, NO_RULES, regions=REGIONS)  # the next healthy run
        for name in "abc":
            status = state.get(name).status
            assert status is not DeploymentStatus.deleting
            if name in asked:
                assert status is DeploymentStatus.deleted and name not in cloud.endpoints
            else:
                assert status is DeploymentStatus.in_service and name in cloud.endpoints
        assert claims.pending(state) == {}
