"""Deploy orchestration (api + deployer + fleet) against moto in process, with a real state store and adapter.

moto is taught the GPU hosting types, SageMaker's endpoint quotas (cloudrun.sandbox.moto_quotas.RAISED) and,
where a test needs it, a Creating phase. Failures the cloud decides (capacity, a crash after a create) are
injected at the adapter's client factory with botocore events; cloudrun's own code stays real.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.sagemaker.models import sagemaker_backends

from cloudrun import api, deployer, teardown
from cloudrun.credits import ledger
from cloudrun.deployer import DeployInterrupted, NoPlacementLeft, WaitPolicy
from cloudrun.errors import AuthError, CloudrunError, Conflict, InvalidInput
from cloudrun.models import DeploymentStatus
from cloudrun.sandbox.moto_lifecycle import emulate_startup
from cloudrun.sandbox.moto_quotas import emulate_sagemaker_quotas
from cloudrun.sandbox.moto_types import widen_instance_types
from cloudrun.state import StateStore, limits
from cloudrun.teardown.idle import Policy
from tests.aws_fixtures import ACCOUNT, REGION, ROLE_ARN, arn, make_untagged_endpoint

MODEL = "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"
NO_WAIT = WaitPolicy(first_s=0.0, max_s=0.0, sleep=lambda _s: None)
CAPACITY = "Unable to provision requested ML compute capacity due to InsufficientInstanceCapacity error."
# In us-east-1, the three cheapest types that fit the 7B model; the sandbox account has quota 0 for the g6 ones.
NO_QUOTA = ["ml.g6.xlarge", "ml.g6.2xlarge"]
FIRST_WITH_QUOTA, SECOND_WITH_QUOTA = "ml.g5.xlarge", "ml.g5.2xlarge"


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """moto in process, fake credentials only, endpoints InService at once (reset afterwards too)."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true",
                        "AWS_CONFIG_FILE": str(tmp_path / "none"),
                        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "CLOUDRUN_SAGEMAKER_ROLE_ARN", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    widen_instance_types()
    emulate_sagemaker_quotas()
    emulate_startup(0)
    try:
        with mock_aws():
            yield
    finally:
        emulate_startup(0)


@pytest.fixture
def state(cloud: None) -> Iterator[StateStore]:
    with StateStore() as store:
        yield store


class Calls:
    """A client factory of moto clients that records every operation and lets a test hook CreateEndpoint."""

    def __init__(self, after_create_endpoint: Callable[..., None] | None = None) -> None:
        self.operations: list[str] = []
        self.after_create_endpoint = after_create_endpoint

    def __call__(self, service: str, region: str) -> Any:
        client = boto3.client(service, region_name=region)
        client.meta.events.register("before-call", lambda model, **_: self.operations.append(model.name))
        if service == "sagemaker" and self.after_create_endpoint:
            client.meta.events.register("after-call.sagemaker.CreateEndpoint", self.after_create_endpoint)
        return client


def loader(factory: Calls | None = None) -> Callable[[str], Any]:
    options: dict[str, Any] = {"role_arn": ROLE_ARN, "sleep": lambda _s: None}
    return api.provider_loader({"aws": {**options, **({"client_factory": factory} if factory else {})}})


def prepare(name: str = "r1-qwen", **options: Any) -> api.DeployPlan:
    options.setdefault("cheapest", "instance_type" not in options)
    options.setdefault("region", REGION)
    return api.prepare_deploy(MODEL, provider="aws", name=name, hours=1, **options)


def fail_for_capacity(times: int = 1_000) -> Callable[..., None]:
    """Return a CreateEndpoint hook that makes the first `times` endpoints go Failed for lack of capacity."""
    failed: list[str] = []

    def hook(parsed: dict[str, Any], **_: Any) -> None:
        if len(failed) < times:
            _, _, _, region, _, resource = parsed["EndpointArn"].split(":", 5)
            endpoint = sagemaker_backends[ACCOUNT][region].endpoints[resource.split("/", 1)[1]]
            endpoint.endpoint_status, endpoint.failure_reason = "Failed", CAPACITY
            failed.append(region)

    return hook


def sagemaker(region: str = REGION) -> Any:
    return boto3.client("sagemaker", region_name=region)


def resources(region: str = REGION) -> dict[str, list[str]]:
    """Return the names of every model, endpoint config and endpoint in moto, per kind."""
    sm = sagemaker(region)
    return {
        "models": [m["ModelName"] for m in sm.list_models()["Models"]],
        "configs": [c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]],
        "endpoints": [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]],
    }


def kinds(store: StateStore, name: str) -> list[str]:
    return [event["kind"] for event in store.events(name)]


NOTHING = {"models": [], "configs": [], "endpoints": []}


# --- the happy path and failover ----------------------------------------------------------------------------


def test_cheapest_deploy_is_in_service_recorded_and_tagged(state):
    plan = prepare()
    result = api.deploy(plan, state, loader(), policy=NO_WAIT)

    chosen = next(o for o in plan.placements if o.offer.instance_type == FIRST_WITH_QUOTA)
    row = state.get("r1-qwen")
    assert row == result.deployment
    assert (row.status, row.instance_type, row.region) == (DeploymentStatus.in_service, FIRST_WITH_QUOTA, REGION)
    assert row.price_per_hour_usd == chosen.price_per_hour_usd == Decimal("1.408")
    assert row.price_source == f"{chosen.offer.source} ({chosen.offer.as_of})"
    assert row.ref is not None and row.ref.endpoint_id == "r1-qwen" and row.ready_at is not None
    assert row.ref.resources == {"model": "r1-qwen", "endpoint_config": "r1-qwen"}
    sm = sagemaker()
    assert sm.describe_endpoint(EndpointName="r1-qwen")["EndpointStatus"] == "InService"
    variant = sm.describe_endpoint_config(EndpointConfigName="r1-qwen")["ProductionVariants"][0]
    assert variant["InstanceType"] == FIRST_WITH_QUOTA
    for kind in ("model", "endpoint-config", "endpoint"):
        tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn(kind, "r1-qwen"))["Tags"]}
        assert tags == {"cloudrun-managed": "true", "cloudrun-deployment": "r1-qwen"}, kind
    assert kinds(state, "r1-qwen") == ["intent", "creating", "in_service"]


def test_placements_without_quota_are_skipped_before_any_create(state):
    calls = Calls()
    result = api.deploy(prepare(), state, loader(calls), policy=NO_WAIT)

    assert result.deployment.instance_type == FIRST_WITH_QUOTA
    skipped = result.attempts[:-1]
    assert [a.placement for a in skipped] == [f"aws {REGION} {t}" for t in NO_QUOTA]
    for attempt, instance_type in zip(skipped, NO_QUOTA, strict=True):
        assert f"quota for {instance_type} endpoints in {REGION} is 0" in attempt.outcome
    assert result.attempts[-1].outcome == "in service"
    assert calls.operations.count("CreateModel") == calls.operations.count("CreateEndpoint") == 1


def test_capacity_failure_rolls_back_then_deploys_the_next_placement_under_the_same_name(state):
    calls = Calls(after_create_endpoint=fail_for_capacity(times=1))
    result = api.deploy(prepare(), state, loader(calls), policy=NO_WAIT, approve=lambda _option: True)  # --yes

    assert result.deployment.instance_type == SECOND_WITH_QUOTA
    assert result.deployment.status is DeploymentStatus.in_service
    assert f"aws {REGION} {FIRST_WITH_QUOTA}" == result.attempts[-2].placement
    assert "InsufficientInstanceCapacity" in result.attempts[-2].outcome
    # The failed endpoint, its config and its model were deleted before the next placement was created.
    creates = [i for i, op in enumerate(calls.operations) if op == "CreateEndpoint"]
    assert len(creates) == 2
    between = calls.operations[creates[0] : creates[1]]
    assert {"DeleteEndpoint", "DeleteEndpointConfig", "DeleteModel"} <= set(between)
    assert resources() == {"models": ["r1-qwen"], "configs": ["r1-qwen"], "endpoints": ["r1-qwen"]}
    config = sagemaker().describe_endpoint_config(EndpointConfigName="r1-qwen")
    assert config["ProductionVariants"][0]["InstanceType"] == SECOND_WITH_QUOTA
    history = state.events("r1-qwen")
    assert [e["kind"] for e in history] == [
        "intent", "creating", "failed", "deleting", "deleted", "intent", "creating", "in_service",
    ]  # fmt: skip
    assert "creating -> failed" in history[2]["detail"] and "InsufficientInstanceCapacity" in history[2]["detail"]


def test_when_every_placement_fails_the_error_lists_them_all_and_nothing_is_left(state):
    plan = prepare(instance_type=FIRST_WITH_QUOTA, region=None)  # the same type in all three regions
    regions = [o.offer.region for o in plan.placements]
    assert sorted(regions) == ["eu-west-1", "us-east-1", "us-west-2"]

    with pytest.raises(NoPlacementLeft) as raised:
        api.deploy(plan, state, loader(Calls(after_create_endpoint=fail_for_capacity())), policy=NO_WAIT,
                   approve=lambda _option: True)  # fmt: skip

    assert raised.value.exit_code == 6
    for region in regions:
        assert f"aws {region} {FIRST_WITH_QUOTA}: " in raised.value.message
        assert resources(region) == NOTHING
    assert raised.value.message.count("InsufficientInstanceCapacity") == 3
    assert state.list() == [] and state.get("r1-qwen").status is DeploymentStatus.deleted


def test_a_dearer_placement_after_a_failure_needs_a_new_yes(state):
    """The user confirmed the first placement's price: failover to a dearer one asks again (here: nobody says yes)."""
    calls = Calls(after_create_endpoint=fail_for_capacity(times=1))
    asked: list[str] = []

    def no(option: Any) -> bool:
        asked.append(option.offer.instance_type)
        return False

    with pytest.raises(NoPlacementLeft, match="not tried: dearer than the \\$1.408/h .* you confirmed") as raised:
        api.deploy(prepare(), state, loader(calls), policy=NO_WAIT, approve=no)
    assert asked and asked[0] == SECOND_WITH_QUOTA
    assert "--max-price" in raised.value.message
    assert calls.operations.count("CreateEndpoint") == 1 and resources() == NOTHING


def test_max_price_lets_failover_use_placements_up_to_it_without_asking(state):
    calls = Calls(after_create_endpoint=fail_for_capacity(times=1))
    plan = prepare(max_price="1.6")
    assert all(o.price_per_hour_usd <= Decimal("1.6") for o in plan.placements)
    result = api.deploy(plan, state, loader(calls), policy=NO_WAIT)
    assert result.deployment.instance_type == SECOND_WITH_QUOTA


def test_placements_without_quota_are_dropped_before_the_price_is_confirmed(state):
    plan = prepare()
    skipped = api.precheck(plan, loader())
    assert [where for where, _ in skipped[:2]] == [f"aws {REGION} {t}" for t in NO_QUOTA]
    assert plan.placements[0].offer.instance_type == FIRST_WITH_QUOTA  # the one the user is asked about


# --- errors that stop the deploy ------------------------------------------------------------------------------


def test_a_validation_error_from_the_cloud_is_invalid_input_and_leaves_nothing(state, tmp_path):
    catalog = tmp_path / "offers.csv"
    catalog.write_text(
        "provider,service,region,instance_type,gpu_model,gpu_count,gpu_memory_gb,vcpus,memory_gb,"
        "price_per_hour_usd,spot_price_per_hour_usd,source,as_of\n"
        f"aws,sagemaker,{REGION},ml.g9.xlarge,L4,1,24,4,16,0.50,,a type SageMaker does not have,2026-11-28\n"
    )
    plan = prepare(catalog_file=catalog)
    assert [o.offer.instance_type for o in plan.placements] == ["ml.g9.xlarge"]

    with pytest.raises(InvalidInput, match="CreateEndpointConfig: .*ml.g9.xlarge"):
        api.deploy(plan, state, loader(), policy=NO_WAIT)

    assert resources() == NOTHING  # the model made before the refused config was rolled back
    assert state.get("r1-qwen") is None
    assert kinds(state, "r1-qwen") == ["intent", "forgotten"]


def test_a_live_name_is_a_conflict_before_anything_is_created(state):
    api.deploy(prepare(), state, loader(), policy=NO_WAIT)
    calls = Calls()

    with pytest.raises(Conflict, match="'r1-qwen' already exists"):
        api.deploy(prepare(), state, loader(calls), policy=NO_WAIT)

    assert [op for op in calls.operations if op.startswith(("Create", "Delete", "Describe"))] == []
    assert resources()["endpoints"] == ["r1-qwen"]
    assert state.get("r1-qwen").status is DeploymentStatus.in_service


def test_a_live_name_is_a_conflict_even_when_no_placement_has_quota(state):
    """A taken name must not be reported as 'no placement could be deployed ... request quota'."""
    api.deploy(prepare(), state, loader(), policy=NO_WAIT)

    with pytest.raises(Conflict, match="'r1-qwen' already exists"):
        api.deploy(prepare(instance_type=NO_QUOTA[0]), state, loader(), policy=NO_WAIT)


# --- crashes and Ctrl-C ---------------------------------------------------------------------------------------


def test_a_crash_after_create_keeps_the_intent_then_status_adopts_and_down_removes(state):
    def crash(**_: Any) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        api.deploy(prepare(), state, loader(Calls(after_create_endpoint=crash)), policy=NO_WAIT)

    row = state.get("r1-qwen")
    assert (row.status, row.ref) == (DeploymentStatus.intent, None)
    assert resources()["endpoints"] == ["r1-qwen"]

    rows, report = api.status(state, loader(), refresh=True)
    assert report.adopted == ["r1-qwen"] and report.problems == []
    row = state.get("r1-qwen")
    assert row.status in {DeploymentStatus.in_service, DeploymentStatus.creating} and row.adopted
    assert row.ref is not None and row.ref.endpoint_id == "r1-qwen"
    assert (row.model_id, row.price_per_hour_usd) == (MODEL, Decimal("1.408"))  # kept from the intent
    assert [r.name for r in rows] == ["r1-qwen"]

    final = api.down(state, loader(), "r1-qwen").deployment
    assert final.status is DeploymentStatus.deleted
    assert resources() == NOTHING


def test_ctrl_c_while_waiting_leaves_it_recorded_with_how_to_remove_it(state):
    emulate_startup(60)  # stays Creating; the fixture puts it back to 0

    def interrupted(_seconds: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(DeployInterrupted) as raised:
        api.deploy(prepare(), state, loader(), policy=WaitPolicy(first_s=0.0, sleep=interrupted))

    assert raised.value.exit_code == 130
    assert "`cloudrun down r1-qwen`" in raised.value.hint
    row = state.get("r1-qwen")
    assert row.status is DeploymentStatus.creating and row.ref is not None
    assert sagemaker().describe_endpoint(EndpointName="r1-qwen")["EndpointStatus"] == "Creating"
    assert api.down(state, loader(), "r1-qwen").deployment.status is DeploymentStatus.deleted
    assert resources() == NOTHING


# --- down and status --refresh --------------------------------------------------------------------------------


def test_down_removes_ours_and_leaves_an_untagged_endpoint_alone(state):
    make_untagged_endpoint("handmade")
    api.deploy(prepare(), state, loader(), policy=NO_WAIT)

    final = api.down(state, loader(), "r1-qwen").deployment

    assert final.status is DeploymentStatus.deleted and final.deleted_at is not None
    assert resources() == {"models": ["handmade"], "configs": ["handmade"], "endpoints": ["handmade"]}
    assert sagemaker().describe_endpoint(EndpointName="handmade")["EndpointStatus"] == "InService"
    with pytest.raises(CloudrunError, match="no deployment named 'r1-qwen'"):
        api.down(state, loader(), "r1-qwen")


@pytest.mark.parametrize("gone", [["endpoint"], ["endpoint", "endpoint_config", "model"]])
def test_down_is_idempotent_when_resources_are_already_gone(state, gone):
    api.deploy(prepare(), state, loader(), policy=NO_WAIT)
    sm = sagemaker()
    deletes = {"endpoint": sm.delete_endpoint, "endpoint_config": sm.delete_endpoint_config, "model": sm.delete_model}
    params = {"endpoint": "EndpointName", "endpoint_config": "EndpointConfigName", "model": "ModelName"}
    for kind in gone:
        deletes[kind](**{params[kind]: "r1-qwen"})

    final = api.down(state, loader(), "r1-qwen").deployment

    assert final.status is DeploymentStatus.deleted
    assert resources() == NOTHING  # what was left behind (config, model) went too


def test_status_refresh_marks_a_deployment_vanished_when_all_of_it_was_deleted_elsewhere(state):
    api.deploy(prepare(), state, loader(), policy=NO_WAIT)
    sm = sagemaker()
    sm.delete_endpoint(EndpointName="r1-qwen")
    sm.delete_endpoint_config(EndpointConfigName="r1-qwen")
    sm.delete_model(ModelName="r1-qwen")

    rows, report = api.status(state, loader(), refresh=True)

    assert report.vanished == ["r1-qwen"] and report.adopted == []
    assert rows == []
    row = state.get("r1-qwen")
    assert row.status is DeploymentStatus.vanished and row.deleted_at is not None
    assert [r.name for r in api.status(state, refresh=False, include_deleted=True)[0]] == ["r1-qwen"]


def test_an_endpoint_deleted_elsewhere_leaves_its_model_and_config_found_and_removed(state):
    api.deploy(prepare(), state, loader(), policy=NO_WAIT)
    sagemaker().delete_endpoint(EndpointName="r1-qwen")

    rows, report = api.status(state, loader(), refresh=True)

    assert report.vanished == [] and report.updated == ["r1-qwen"]
    assert "model r1-qwen, endpoint config r1-qwen left, no endpoint" in report.incomplete["r1-qwen"]
    (row,) = rows
    assert row.status is DeploymentStatus.failed and "no endpoint" in (row.failure_reason or "")
    removed = api.down(state, loader(), "r1-qwen")
    assert removed.removal.removed == ("endpoint config r1-qwen", "model r1-qwen")
    assert removed.removal.not_found == ("endpoint r1-qwen",)
    assert resources() == NOTHING


# --- failover across providers, and what a --free-only deploy records -----------------------------------------

GCP_FIRST = (
    "provider,service,region,instance_type,gpu_model,gpu_count,gpu_memory_gb,vcpus,memory_gb,"
    "price_per_hour_usd,spot_price_per_hour_usd,source,as_of\n"
    "gcp,vertex,us-central1,g2-standard-8,L4,1,24,8,32,0.90,,test,2026-11-28\n"
    f"aws,sagemaker,{REGION},{FIRST_WITH_QUOTA},A10G,1,24,4,16,1.408,,test,2026-11-28\n"
)


def no_google(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No Application Default Credentials anywhere (no key file, no gcloud login, no metadata server)."""
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT", "CLOUDRUN_VERTEX_API_ENDPOINT",
                 "CLOUDRUN_SANDBOX_CREDENTIALS"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "no-gcloud"))


def test_cheapest_reaches_aws_when_google_has_no_credentials(state, monkeypatch, tmp_path):
    no_google(monkeypatch, tmp_path)
    catalog = tmp_path / "offers.csv"
    catalog.write_text(GCP_FIRST)
    plan = api.prepare_deploy(MODEL, cheapest=True, name="r1-qwen", hours=1, catalog_file=catalog)
    assert [o.offer.provider for o in plan.placements] == ["gcp", "aws"]
    load = api.provider_loader({"aws": {"role_arn": ROLE_ARN, "sleep": lambda _s: None}})

    skipped = api.precheck(plan, load)  # before the price is confirmed: the user is asked about AWS's
    assert [where for where, _ in skipped] == ["gcp us-central1 g2-standard-8"]
    assert (
        "Application Default Credentials" in skipped[0][1] and "gcloud auth application-default login" in skipped[0][1]
    )
    result = api.deploy(plan, state, load, policy=NO_WAIT)
    assert result.deployment.provider == "aws" and result.deployment.status is DeploymentStatus.in_service
    assert result.attempts[0].placement == "gcp us-central1 g2-standard-8"


def test_a_refused_sandbox_endpoint_is_a_usage_error_not_no_placement_left(state, monkeypatch, tmp_path):
    """Google's adapter refuses sandbox credentials aimed at an endpoint off this machine. With AWS's dearer placement
    not approved, the deploy ended "no placement could be deployed" (exit 6): the refusal is the user's to fix (2)."""
    no_google(monkeypatch, tmp_path)
    monkeypatch.setenv("CLOUDRUN_SANDBOX_CREDENTIALS", "1")
    monkeypatch.setenv("CLOUDRUN_VERTEX_API_ENDPOINT", "https://vertex.example.com")
    catalog = tmp_path / "offers.csv"
    catalog.write_text(GCP_FIRST)
    plan = api.prepare_deploy(MODEL, cheapest=True, name="r1-qwen", hours=1, catalog_file=catalog)
    calls = Calls()
    load = api.provider_loader({"aws": {"role_arn": ROLE_ARN, "sleep": lambda _s: None, "client_factory": calls}})

    with pytest.raises(InvalidInput, match="only for a Vertex endpoint on this machine") as raised:
        api.deploy(plan, state, load, policy=NO_WAIT, approve=lambda _option: False)
    assert raised.value.exit_code == 2 and "not tried: dearer" in raised.value.message
    assert "CreateModel" not in calls.operations and resources() == NOTHING


def test_credentials_refused_at_create_move_on_to_the_next_provider(state, monkeypatch, tmp_path):
    """The deployer's own safety net (no precheck): an AuthError from one provider's create is not the end."""
    no_google(monkeypatch, tmp_path)
    catalog = tmp_path / "offers.csv"
    catalog.write_text(GCP_FIRST)
    plan = api.prepare_deploy(MODEL, cheapest=True, name="r1-qwen", hours=1, catalog_file=catalog)
    load = api.provider_loader({"aws": {"role_arn": ROLE_ARN, "sleep": lambda _s: None}})
    runner = deployer.Deployer(state, load, policy=NO_WAIT)
    result = runner.run(plan.targets)
    assert result.deployment.provider == "aws"
    gcp = result.attempts[0]
    assert isinstance(gcp.error, AuthError) and "Application Default Credentials" in gcp.outcome
    assert kinds(state, "r1-qwen")[:2] == ["intent", "forgotten"]  # nothing was created on Google's side


def test_aws_without_credentials_says_so_not_that_a_role_is_missing(monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "CLOUDRUN_SAGEMAKER_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    from cloudrun.providers.aws import SageMakerProvider

    with pytest.raises(AuthError, match="Unable to locate credentials") as raised:
        SageMakerProvider(sleep=lambda _s: None, deadline_s=0).resolve_role()
    assert "execution role" not in raised.value.message and "aws configure" in (raised.value.hint or "")


def test_free_only_with_a_credits_file_records_when_that_credit_stops_paying(state, tmp_path):
    """The run-out moment comes from the grants the plan used (the file), not from the (empty) ledger."""
    credit = tmp_path / "credits.json"
    expires = datetime.now(timezone.utc) + timedelta(days=30)
    credit.write_text(json.dumps([{"provider": "aws", "amount_usd": 56.32, "expires_at": expires.isoformat(),
                                   "gpu_eligible": True, "services": ["sagemaker"], "name": "activate"}]))  # fmt: skip
    plan = prepare(instance_type=FIRST_WITH_QUOTA, credits_file=credit, free_only=True)  # 1 hour asked
    assert plan.placements[0].out_of_pocket_usd == 0
    result = api.deploy(plan, state, loader(), policy=NO_WAIT)

    runs_out = ledger.Ledger(state).credit_runs_out_at("r1-qwen")
    hours = (runs_out - result.deployment.created_at).total_seconds() / 3600
    assert hours == pytest.approx(40, abs=0.01)  # $56.32 at $1.408/h
    report = teardown.check(state, loader(), Policy(), regions={"aws": [REGION]})
    assert [o.name for o in report.kept] == ["r1-qwen"] and report.deleted == []


def test_when_no_provider_has_credentials_nothing_is_asked_and_exit_is_3(state, monkeypatch, tmp_path):
    no_google(monkeypatch, tmp_path)
    catalog = tmp_path / "offers.csv"
    catalog.write_text(GCP_FIRST.splitlines()[0] + "\n" + GCP_FIRST.splitlines()[1] + "\n")  # Google only
    plan = api.prepare_deploy(MODEL, cheapest=True, name="r1-qwen", hours=1, catalog_file=catalog)
    with pytest.raises(AuthError, match="Application Default Credentials") as raised:
        api.precheck(plan, api.provider_loader())
    assert raised.value.exit_code == 3 and "no placement could be deployed" in raised.value.message


def test_a_script_gets_the_whole_deploy_limits_and_exclusions_from_the_api(state):
    plan = api.prepare_deploy(MODEL, cheapest=True, region=REGION, exclude=["gcp", "azure"], name="r1-qwen", hours=1,
                              ttl="8h", idle_timeout="30m", max_spend="20")  # fmt: skip
    assert {o.offer.provider for o in plan.placements} == {"aws"}
    result = api.deploy(plan, state, loader(), policy=NO_WAIT)
    stored = limits.limits(state, result.deployment.name)
    assert (stored.ttl, stored.idle_timeout, stored.max_spend_usd) == (timedelta(hours=8), timedelta(minutes=30), 20)
    with pytest.raises(InvalidInput, match="not a duration"):
        prepare(ttl="eight hours")  # refused before anything is asked or created
