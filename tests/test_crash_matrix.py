"""kill -9 during a deploy, at each create call, on all three clouds: nothing cloudrun made is left behind.

A deploy runs for real (`api.deploy`: intent row, the adapter's create) against moto in process, the Vertex REST
fake and the Azure ARM fake; the adapter's injected client factory makes the process "die" at one create call
by raising `Killed`, a BaseException no adapter catches, so no rollback runs (kill -9 runs no code). What is left
is what a killed process leaves: an `intent` row and a half-made set of tagged resources. Then, from a new
process (a fresh adapter), either `status --refresh` + `down NAME`, or a `teardown` an hour later, must remove
every one of them and say exactly which; and a machine with no record at all finds them with `down --all`
(whose dry run writes nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cloudrun import api
from cloudrun.models import DeploymentStatus
from cloudrun.sandbox import azure_fake, vertex_fake
from cloudrun.sandbox.moto_lifecycle import emulate_startup
from cloudrun.sandbox.moto_quotas import emulate_sagemaker_quotas
from cloudrun.sandbox.moto_types import widen_instance_types
from cloudrun.state import StateStore
from cloudrun.teardown import fleet, sweep
from cloudrun.teardown.idle import Policy
from tests.aws_fixtures import ROLE_ARN, fake_credentials

MODEL = "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"
REGIONS = {"aws": "us-east-1", "gcp": "us-central1", "azure": "eastus"}
LATER = timedelta(hours=1)  # past fleet.DEPLOY_GRACE: no deploy can still be making the set

pytestmark = [pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]  # the fakes, on loopback only


class Killed(BaseException):
    """The process died here (kill -9): nothing after this point runs, no handler, no rollback."""


@dataclass(frozen=True)
class Case:
    cloud: str
    where: str  # (client kind or service, method, "before" | "after") of the call the process dies at
    kill: tuple[str, str, str]
    left: tuple[str, ...]  # the kinds of resource the killed deploy leaves, as `down` names them


CASES = [
    Case("aws", "after CreateModel", ("sagemaker", "CreateEndpointConfig", "before"), ("model",)),
    Case("aws", "after CreateEndpointConfig", ("sagemaker", "CreateEndpointConfig", "after"),
         ("endpoint config", "model")),
    Case("aws", "before CreateEndpoint", ("sagemaker", "CreateEndpoint", "before"), ("endpoint config", "model")),
    Case("gcp", "after upload", ("model", "upload_model", "after"), ("model",)),
    Case("gcp", "after create-endpoint", ("endpoint", "create_endpoint", "after"), ("endpoint", "model")),
    Case("gcp", "before deployModel", ("endpoint", "deploy_model", "before"), ("endpoint", "model")),
    Case("azure", "after endpoint", ("online_endpoints", "begin_create_or_update", "after"), ("endpoint",)),
    Case("azure", "before deployment", ("online_deployments", "begin_create_or_update", "before"), ("endpoint",)),
]  # fmt: skip


# --- killing at one call, at the injected client factory ------------------------------------------------------


class Dying:
    """Wraps an SDK object: calling `method` raises Killed before or after the real call, once."""

    def __init__(self, target: Any, method: str, when: str, fired: list[bool]) -> None:
        self._target, self._method, self._when, self._fired = target, method, when, fired

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if name != self._method or self._fired[0]:
            return attribute

        def dying(*args: Any, **kwargs: Any) -> Any:
            self._fired[0] = True
            if self._when == "before":
                raise Killed(name)
            attribute(*args, **kwargs)
            raise Killed(name)

        return dying


def aws_factory(kill: tuple[str, str, str] | None) -> Callable[[str, str], Any]:
    def make(service: str, region: str) -> Any:
        client = boto3.client(service, region_name=region)
        if kill and service == kill[0]:

            def die(**_: Any) -> None:
                raise Killed(kill[1])

            client.meta.events.register(f"{kill[2]}-call.{service}.{kill[1]}", die)
        return client

    return make


def gcp_factory(kill: tuple[str, str, str] | None) -> Callable[[str, str], Any]:
    from cloudrun.providers.gcp_client import VertexSession

    session, fired = VertexSession(), [False]  # its default clients: REST to the fake, anonymous credentials

    def make(kind: str, region: str) -> Any:
        client = session.default_client(kind, region)
        return Dying(client, kill[1], kill[2], fired) if kill and kind == kill[0] else client

    return make


def azure_factory(kill: tuple[str, str, str] | None) -> Callable[[str, str], Any]:
    from cloudrun.providers import azure_client

    target, fired = azure_client.resolve(None, None, None), [False]

    class DyingClient:
        def __init__(self, client: Any) -> None:
            self._client = client

        def __getattr__(self, name: str) -> Any:
            found = getattr(self._client, name)
            return Dying(found, kill[1], kill[2], fired) if kill and name == kill[0] else found

    def make(_kind: str, _region: str) -> Any:
        return DyingClient(azure_client.ml_client(target, azure_client.credential(target)))

    return make


FACTORIES = {"aws": aws_factory, "gcp": gcp_factory, "azure": azure_factory}


def loader(cloud: str, kill: tuple[str, str, str] | None = None) -> Callable[[str], Any]:
    """Return a provider loader as a new cloudrun process has it (a fresh adapter), dying at `kill` if given."""
    options: dict[str, Any] = {"client_factory": FACTORIES[cloud](kill), "sleep": lambda _s: None}
    if cloud == "aws":
        options["role_arn"] = ROLE_ARN
    return api.provider_loader({cloud: options})


# --- the clouds ----------------------------------------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[[], list[str]]]:
    fake_credentials(monkeypatch, tmp_path)
    widen_instance_types()
    emulate_sagemaker_quotas()
    emulate_startup(0)
    with mock_aws():
        sm = boto3.client("sagemaker", region_name=REGIONS["aws"])

        def inventory() -> list[str]:
            return sorted([f"model {m['ModelName']}" for m in sm.list_models()["Models"]]
                          + [f"endpoint config {c['EndpointConfigName']}"
                             for c in sm.list_endpoint_configs()["EndpointConfigs"]]
                          + [f"endpoint {e['EndpointName']}" for e in sm.list_endpoints()["Endpoints"]])  # fmt: skip

        yield inventory


@pytest.fixture
def gcp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], list[str]]]:
    fake = vertex_fake.start()
    for name, value in vertex_fake.environment(fake.url).items():
        monkeypatch.setenv(name, value)

    def inventory() -> list[str]:
        with fake.state.lock:
            return sorted([f"model {m}" for m in fake.state.models] + [f"endpoint {e}" for e in fake.state.endpoints])

    yield inventory
    fake.stop()


@pytest.fixture
def azure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[[], list[str]]]:
    fake = azure_fake.start()
    monkeypatch.chdir(tmp_path)  # no Azure ML config.json from the developer's folder
    monkeypatch.setenv("AZUREML_CURRENT_CLOUD", "AzureCloud")  # MLClient sets it process-wide; restored after
    for name, value in azure_fake.environment(fake).items():
        monkeypatch.setenv(name, value)

    def inventory() -> list[str]:
        with fake.arm._lock:
            fake.arm.settle()  # deletions whose time has come, as the next read would see them
            return sorted([f"endpoint {e}" for e in fake.arm.endpoints]
                          + [f"deployment {e}/{d}" for e, d in fake.arm.deployments])  # fmt: skip

    yield inventory
    fake.stop()


@pytest.fixture(params=CASES, ids=lambda case: f"{case.cloud}-{case.where.replace(' ', '-')}")
def killed(request: pytest.FixtureRequest) -> tuple[Case, Callable[[], list[str]], str]:
    """Return the case, its cloud's inventory, and the name of a deploy killed at the case's call."""
    case: Case = request.param
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        request.getfixturevalue("monkeypatch").delenv(name, raising=False)
    inventory = request.getfixturevalue(case.cloud)
    name = f"crash-{case.cloud}"
    plan = api.prepare_deploy(MODEL, cheapest=True, provider=case.cloud, region=REGIONS[case.cloud], name=name, hours=1)
    with StateStore() as state, pytest.raises(Killed):
        api.deploy(plan, state, loader(case.cloud, case.kill))
    with StateStore() as state:
        assert state.get(name).status is DeploymentStatus.intent  # all a killed deploy leaves in the state file
    assert [kind for kind in case.left if any(item.startswith(kind + " ") for item in inventory())] == list(
        case.left
    ), inventory()  # and, in the cloud, the half-made set
    return case, inventory, name


def kinds(labels: tuple[str, ...]) -> list[str]:
    """Return the kinds of resource named in `down`'s report ("model projects/.../models/1" -> "model")."""
    return sorted(label.rsplit(" ", 1)[0] for label in labels)


# --- the matrix ------------------------------------------------------------------------------------------------


def test_status_refresh_then_down_removes_everything_and_says_what(killed):
    case, inventory, name = killed
    load = loader(case.cloud)
    with StateStore() as state:
        report = fleet.reconcile(state, load, {case.cloud: [REGIONS[case.cloud]]})
        # Seconds old: a deploy may still be making it, so refresh records nothing yet, and says so.
        assert report.adopted == [] and [w.split(":")[0] for w in report.waiting] == [name]
        assert state.get(name).status is DeploymentStatus.intent

        removed = api.down(state, load, name)

        assert removed.deployment.status is DeploymentStatus.deleted
        assert kinds(removed.removal.removed) == sorted(case.left)  # exactly what the killed deploy had made
        assert name not in {row.name for row in state.list()}
    assert inventory() == []


def test_a_teardown_an_hour_later_adopts_the_half_made_set_and_removes_it(killed):
    case, inventory, name = killed
    later = datetime.now(timezone.utc) + LATER
    with StateStore() as state:
        report = sweep.check(state, loader(case.cloud), Policy(), regions={case.cloud: [REGIONS[case.cloud]]},
                             now=later)  # fmt: skip

        assert report.ok and report.adopted == [name], report
        (deleted,) = report.deleted
        assert deleted.name == name and "incomplete" in deleted.reason and "nothing can serve" in deleted.reason
        assert deleted.removal is not None and kinds(deleted.removal.removed) == sorted(case.left)
        assert state.get(name).status is DeploymentStatus.deleted
    assert inventory() == []


def test_a_machine_with_no_record_finds_the_set_with_down_all_and_its_dry_run_writes_nothing(killed, tmp_path):
    case, inventory, name = killed
    left = inventory()
    later = datetime.now(timezone.utc) + LATER
    regions = {case.cloud: [REGIONS[case.cloud]]}
    with StateStore(tmp_path / "elsewhere.db") as state:  # another machine: no intent row
        preview = sweep.down_all(state, loader(case.cloud), regions=regions, dry_run=True, now=later)

        assert preview.adopted == [name] and [o.name for o in preview.deleted] == [name], preview
        assert state.list(include_deleted=True) == [] and inventory() == left  # wrote nothing, deleted nothing

        report = sweep.down_all(state, loader(case.cloud), regions=regions, now=later)

        assert report.ok and [o.name for o in report.deleted] == [name], report
        assert state.get(name).status is DeploymentStatus.deleted and state.get(name).adopted
    assert inventory() == []
