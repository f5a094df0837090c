"""Deploy orchestration (api + deployer + fleet) on one cloud: the happy path and failover between placements,
errors that stop a deploy, crashes and Ctrl-C, down and status --refresh. Failures the cloud decides are injected at
the adapter's client factory (tests/deploy/support.py); cloudrun's own code stays real.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from cloudrun import api
from cloudrun.deployer import DeployInterrupted, NoPlacementLeft, WaitPolicy
from cloudrun.errors import CloudrunError, Conflict, InvalidInput
from cloudrun.models import DeploymentStatus
from cloudrun.sandbox.moto_lifecycle import emulate_startup
from tests.aws_fixtures import REGION, arn, make_untagged_endpoint
from tests.deploy.support import (
    FIRST_WITH_QUOTA,
    MODEL,
    NO_QUOTA,
    NO_WAIT,
    NOTHING,
    SECOND_WITH_QUOTA,
    Calls,
    fail_for_capacity,
    kinds,
    loader,
    prepare,
    resources,
    sagemaker,
)  # fmt: skip

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
