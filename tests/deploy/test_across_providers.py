"""Deploy across providers: failover when a cloud's credentials are missing or refused, a sandbox endpoint refused
as input, what a --free-only deploy records, and the whole deploy through the api.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from cloudrun import api, deployer, teardown
from cloudrun.credits import ledger
from cloudrun.errors import AuthError, InvalidInput
from cloudrun.models import DeploymentStatus
from cloudrun.state import limits
from cloudrun.teardown.idle import Policy
from tests.aws_fixtures import REGION, ROLE_ARN
from tests.deploy.support import (
    FIRST_WITH_QUOTA,
    MODEL,
    NO_WAIT,
    NOTHING,
    Calls,
    kinds,
    loader,
    prepare,
    resources,
)  # fmt: skip

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
