"""The credit ledger against real SQLite: burn and runway, presets' rules, the planner's order, live sync."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import boto3
import pytest
import requests
import responses
from botocore.stub import Stubber
from moto import mock_aws

from cloudrun import scheduler
from cloudrun.credits import burn, ineligible_reason, spend, usable_grants
from cloudrun.credits import presets as credit_presets
from cloudrun.credits import sync as credit_sync
from cloudrun.credits.ledger import Ledger, LedgerGrant, free_placements, grants_for_planning, new_id
from cloudrun.credits.runway import credit
from cloudrun.errors import Conflict, InvalidInput
from cloudrun.models import DeploySpec, EndpointRef, Precision
from cloudrun.providers import azure_credits
from cloudrun.state import StateStore
from tests.factories import NOW, grant, need, offer

H = timedelta(hours=1)


@pytest.fixture
def store(tmp_path):
    with StateStore(tmp_path / "state.db") as s:
        yield s


@pytest.fixture
def ledger(store):
    return Ledger(store)


def add(ledger, name="activate", provider="aws", amount="1000", expires=100.0, starts=-1000.0, gpu=True, **kw):
    service = {"aws": "sagemaker", "gcp": "vertex", "azure": "azureml"}.get(provider, "x")
    fields = dict(id=new_id(), provider=provider, name=name, amount_usd=Decimal(amount), starts_at=NOW + starts * H,
                  expires_at=NOW + expires * H, services=(service,), gpu_eligible=gpu, created_at=NOW)  # fmt: skip
    return ledger.add(LedgerGrant(**{**fields, **kw}))


def run(store, name, price, since_hours, provider="aws", stop_after=None):
    """Record a deployment that went in service `since_hours` before NOW (deleted `stop_after` hours later)."""
    service = {"aws": "sagemaker", "gcp": "vertex", "azure": "azureml"}[provider]
    spec = DeploySpec(name=name, model_id="m", provider=provider, service=service, region="r", instance_type="t",
                      gpu_count=1, tensor_parallel=1, context=4096, precision=Precision.bf16)  # fmt: skip
    start = NOW - since_hours * H
    store.record_intent(spec, price_per_hour_usd=Decimal(price), price_source="test", now=start)
    store.mark_creating(name, EndpointRef(provider=provider, region="r", name=name, endpoint_id=name), now=start)
    store.mark_ready(name, now=start)
    if stop_after is not None:
        store.mark_deleted(name, now=start + stop_after * H)


def by_name(ledger, now=NOW):
    return {b.grant.name: b for b in ledger.balances(now)}


# --- burn and runway --------------------------------------------------------------------------------------


def test_a_grant_expiring_mid_deployment_hands_over_to_the_next(store, ledger):
    add(ledger, "soon", amount="100", expires=5)
    add(ledger, "later", amount="1000", expires=50)
    run(store, "ep", "10", since_hours=2)  # $10/h since 2 h ago: "soon" paid $20 so far
    b = by_name(ledger)
    soon, later = b["soon"], b["later"]
    assert (soon.remaining_usd, soon.charges_usd, soon.burn_usd_per_hour) == (Decimal(80), Decimal(20), Decimal(10))
    assert soon.runway_hours == Decimal(8) and soon.ends_by == "expiry" and soon.runs_out_at == NOW + 5 * H
    assert soon.available_usd == Decimal(30)  # it pays 5 more hours ($50) before it expires
    assert later.burn_usd_per_hour == 0 and later.remaining_usd == 1000
    assert later.available_usd == Decimal(550)  # it pays from 5 h to 50 h: 45 h x $10
    assert ledger.record_credit_runs_out("ep", NOW) == NOW + 50 * H
    assert ledger.credit_runs_out_at("ep") == NOW + 50 * H


def test_burn_ends_a_grant_before_its_expiry(store, ledger):
    add(ledger, "small", amount="30", expires=100)
    run(store, "ep", "10", since_hours=0)
    small = by_name(ledger)["small"]
    assert small.runway_hours == Decimal(3) and small.ends_by == "burn" and small.runs_out_at == NOW + 3 * H
    assert small.available_usd == 0
    assert grants_for_planning(NOW, store) == []  # nothing left for a new deployment
    later = by_name(ledger, NOW + 4 * H)["small"]
    assert later.remaining_usd == 0 and later.ends_by == "spent"


def test_charges_come_from_deployment_records_and_stop_at_deletion(store, ledger):
    add(ledger, "c", amount="100", expires=100)
    run(store, "gone", "3", since_hours=10, stop_after=4)  # billed 4 h = $12, then deleted
    run(store, "other-cloud", "50", since_hours=10, provider="gcp")  # another provider's credit would pay
    c = by_name(ledger)["c"]
    assert (c.remaining_usd, c.burn_usd_per_hour, c.ends_by) == (Decimal(88), Decimal(0), "expiry")


def test_the_simulation_spends_exactly_what_the_planner_rule_spends_for_one_deployment():
    grants = [grant(amount="500", expires_in_hours=3, name="soon"), grant(amount="20", expires_in_hours=100, name="x")]
    usage = burn.Usage("ep", offer(), Decimal(10), NOW, NOW + 10 * H)
    outcome = burn.simulate(grants, [usage], NOW, NOW + 200 * H)
    applied, uses = spend(Decimal(10), Decimal(10), usable_grants(grants, offer(), NOW), NOW)
    assert {u.grant: u.amount_usd for u in uses} == {k: v for k, v in outcome.spent.items() if v}
    assert outcome.uncovered_from["ep"] == NOW + 5 * H  # 3 h from "soon", 2 h from "x", then nothing


# --- the planner spends soonest-expiring first across running deployments -------------------------------------


def test_planner_gets_grants_net_of_running_deployments_soonest_expiring_first(store, ledger):
    add(ledger, "soon", amount="50", expires=10)
    add(ledger, "later", amount="1000", expires=100)
    add(ledger, "trial", provider="gcp", amount="300", expires=100)
    run(store, "a", "5", since_hours=0)
    run(store, "b", "5", since_hours=0)
    b = by_name(ledger)
    assert b["soon"].burn_usd_per_hour == Decimal(10) and b["later"].burn_usd_per_hour == 0
    assert b["soon"].runs_out_at == NOW + 5 * H and b["soon"].ends_by == "burn"
    planning = {g.name: g.amount_usd for g in grants_for_planning(NOW, store)}
    assert planning == {"later": Decimal(50), "trial": Decimal(300)}  # later pays 10 $/h from 5 h to 100 h
    plan = scheduler.rank(need(), [offer(price="2")], grants_for_planning(NOW, store), hours=Decimal(40), now=NOW)
    best = plan.options[0]
    assert [u.grant for u in best.credit_uses] == ["later"] and best.out_of_pocket_usd == Decimal(30)


def test_free_only_keeps_only_placements_credit_pays_in_full(store, ledger):
    add(ledger, "c", amount="50", expires=100)
    offers = [offer(price="1"), offer(instance_type="big", price="5")]
    plan = scheduler.rank(need(), offers, grants_for_planning(NOW, store), hours=Decimal(20), now=NOW)
    assert [o.offer.instance_type for o in free_placements(plan.options)] == ["ml.g5.xlarge"]
    with pytest.raises(InvalidInput, match="--free-only"):
        free_placements([o for o in plan.options if o.offer.instance_type == "big"])


# --- presets ----------------------------------------------------------------------------------------------


def build(name, **kw):
    return credit_presets.build(credit_presets.get(name), now=NOW, starts_at=NOW - 10 * 24 * H, **kw)


def test_a_trial_credit_never_pays_for_a_gpu_offer_unless_upgraded():
    vertex, azureml = offer(provider="gcp"), offer(provider="azure")
    for name, o in (("gcp-free-trial", vertex), ("azure-free-account", azureml)):
        trial = build(name)
        assert ineligible_reason(_as_credit(trial), o, NOW) == "not eligible for GPU instances"
        assert ineligible_reason(_as_credit(build(name, upgraded=True)), o, NOW) is None
        with pytest.raises(InvalidInput, match="upgraded"):
            build(name, gpu_eligible=True)


def test_upgrading_does_not_extend_a_trial_credit():
    assert build("gcp-free-trial", upgraded=True).expires_at == NOW + 80 * 24 * H  # day 90 from sign-up
    assert build("azure-free-account", upgraded=True).expires_at == NOW + 20 * 24 * H  # day 30


def test_preset_rules_and_their_uncertainty():
    students = build("azure-students")
    assert students.amount_usd == 100 and not students.gpu_eligible and "UNVERIFIED" in students.notes
    assert build("azure-students", gpu_eligible=True).gpu_eligible
    assert students.expires_at == credit_presets.add_months(students.starts_at, 12)
    assert not build("aws-free-plan").gpu_eligible and build("aws-free-plan", gpu_eligible=True).gpu_eligible
    assert build("aws-paid-plan").gpu_eligible and build("aws-free-plan").amount_usd == 200
    with pytest.raises(InvalidInput, match="at most"):
        build("aws-free-plan", amount_usd=Decimal(500))
    with pytest.raises(InvalidInput, match="--amount"):
        build("aws-activate")
    with pytest.raises(InvalidInput, match="--expires"):
        build("google-for-startups", amount_usd=Decimal(2000))
    assert all(r.note for p in credit_presets.PRESETS.values() for r in p.rules)


def _as_credit(g: LedgerGrant):
    return credit(g, g.amount_usd, g.expires_at)


# --- validation -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"amount_usd": Decimal(-5)}, "must be a number >= 0"),
        ({"expires_at": NOW - 2000 * H}, "must be after it starts"),
        ({"currency": "EUR"}, "currency EUR is not supported yet"),
        ({"provider": "oracle"}, "not one of"),
    ],
)
def test_bad_grants_are_refused(ledger, changes, message):
    with pytest.raises(InvalidInput, match=message):
        add(ledger, **changes)
    assert ledger.grants() == []


def test_names_are_unique_and_remove_takes_observations_with_it(store, ledger):
    g = add(ledger)
    with pytest.raises(Conflict):
        add(ledger)
    ledger.observe(credit_sync.Observation(g.id, NOW, Decimal(5), "test"))
    ledger.remove(g.name)
    assert ledger.grants() == [] and ledger.observations() == []


# --- live sync ----------------------------------------------------------------------------------------------


@pytest.fixture
def aws_env(monkeypatch):
    for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                       ("AWS_DEFAULT_REGION", "us-east-1")):  # fmt: skip
        monkeypatch.setenv(key, value)


def stubbed_freetier(*answers):
    client = boto3.client("freetier", region_name="us-east-1")
    stub = Stubber(client)
    for answer in answers:
        if isinstance(answer, str):
            stub.add_client_error("get_account_plan_state", answer, http_status_code=403)
        else:
            stub.add_response("get_account_plan_state", answer, {})
    stub.activate()
    return credit_sync.Clients(aws=lambda service, region: client, sleep=lambda s: None)


PLAN_STATE = {"accountId": "123456789012", "accountPlanType": "FREE", "accountPlanStatus": "ACTIVE",
              "accountPlanRemainingCredits": {"amount": 123.45, "unit": "USD"},
              "accountPlanExpirationDate": NOW + 1000 * H}  # fmt: skip


def test_freetier_sync_records_the_plan_credit_and_a_failure_leaves_it_stale(aws_env, ledger):
    clients = stubbed_freetier(PLAN_STATE, "AccessDeniedException")
    [first] = credit_sync.sync(ledger, NOW, providers=["aws"], clients=clients)
    assert (first.grant, first.remaining_usd, first.stale_reason) == ("aws-free-plan", Decimal("123.45"), None)
    plan = by_name(ledger)["aws-free-plan"]
    assert plan.grant.source == "live" and not plan.grant.gpu_eligible and plan.expires_at == NOW + 1000 * H
    [second] = credit_sync.sync(ledger, NOW + H, providers=["aws"], clients=clients)
    assert "AccessDenied" in second.stale_reason
    later = by_name(ledger, NOW + H)["aws-free-plan"]
    assert later.remaining_usd == Decimal("123.45") and "AccessDenied" in later.stale_reason


def test_sandbox_skips_freetier_without_a_call(ledger, monkeypatch):
    monkeypatch.setenv("CLOUDRUN_SANDBOX", "1")
    clients = credit_sync.Clients(aws=lambda service, region: pytest.fail("no client in the sandbox"))
    [result] = credit_sync.sync(ledger, NOW, providers=["aws"], clients=clients)
    assert "sandbox" in result.stale_reason


def _seed_cost_explorer(amount: str) -> None:
    total = {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}
    dates = {"Start": "2026-11-01", "End": "2026-11-29"}
    period = {"TimePeriod": dates, "Total": total, "Groups": [], "Estimated": True}
    seed = {"results": [{"ResultsByTime": [period]}]}
    response = requests.post("http://motoapi.amazonaws.com/moto-api/static/ce/cost-and-usage-results", json=seed)
    assert response.status_code == 201


def test_cost_explorer_sync_twice_never_double_counts(aws_env, store, ledger):
    add(ledger, "activate", amount="1000", expires=1000, starts=-10)
    run(store, "ep", "4", since_hours=10)
    with mock_aws():
        _seed_cost_explorer("-40.0")
        ce = boto3.client("ce", region_name="us-east-1")
        freetier = stubbed_freetier("AccessDeniedException", "AccessDeniedException").aws
        clients = credit_sync.Clients(aws=lambda service, region: ce if service == "ce" else freetier(service, region))
        for _ in range(2):
            plan, result = credit_sync.sync(ledger, NOW, providers=["aws"], cost_explorer=True, clients=clients)
            assert result.remaining_usd == Decimal(960) and "$0.01" in result.note
    assert by_name(ledger)["activate"].remaining_usd == Decimal(960)
    five_hours_on = by_name(ledger, NOW + 5 * H)["activate"]
    assert five_hours_on.remaining_usd == Decimal(940) and five_hours_on.charges_usd == Decimal(20)


def test_cost_explorer_is_not_split_between_several_aws_credits(aws_env, ledger):
    add(ledger, "a"), add(ledger, "b")
    [ra, rb] = credit_sync.sync(ledger, NOW, providers=["aws"], cost_explorer=True,
                                clients=stubbed_freetier("AccessDeniedException"))[1:]  # fmt: skip
    assert "not per credit" in ra.stale_reason and ra.grant == "a" and rb.grant == "b"


PROFILE = "/providers/Microsoft.Billing/billingAccounts/acc/billingProfiles/prof"
AZURE_URL = azure_credits.URL.format(profile=PROFILE)


def _azure_sync(ledger, now=NOW):
    clients = credit_sync.Clients(azure_token=lambda: "token", sleep=lambda s: None)
    return credit_sync.sync(ledger, now, providers=["azure"], azure_billing_profile=PROFILE, clients=clients)


@responses.activate
def test_azure_balance_is_read_from_the_billing_profile(ledger):
    add(ledger, "mca", provider="azure", amount="500")
    estimated, current = {"currency": "USD", "value": 321.5}, {"currency": "USD", "value": 400}
    summary = {"estimatedBalance": estimated, "currentBalance": current}
    responses.get(AZURE_URL, json={"properties": {"balanceSummary": summary}})
    [result] = _azure_sync(ledger)
    assert result.remaining_usd == Decimal("321.5") and by_name(ledger)["mca"].remaining_usd == Decimal("321.5")
    assert responses.calls[0].request.headers["Authorization"] == "Bearer token"
    assert "api-version=2019-10-01" in responses.calls[0].request.url


@responses.activate
@pytest.mark.parametrize(
    ("status", "body", "why"),
    [
        (403, {"error": {"code": "AuthorizationFailed"}}, "not permitted"),
        (200, {"properties": {"balanceSummary": {"estimatedBalance": {"currency": "EUR", "value": 9}}}}, "not USD"),
    ],
)
def test_azure_failures_keep_the_ledger_value_marked_stale(ledger, status, body, why):
    add(ledger, "mca", provider="azure", amount="500")
    responses.get(AZURE_URL, json=body, status=status)
    [result] = _azure_sync(ledger)
    assert why in result.stale_reason
    mca = by_name(ledger)["mca"]
    assert mca.remaining_usd == 500 and why in mca.stale_reason


def test_google_is_an_estimate_and_azure_without_profile_is_stale(ledger, monkeypatch):
    monkeypatch.delenv(credit_sync.AZURE_PROFILE_ENV, raising=False)
    add(ledger, "trial", provider="gcp", amount="300")
    add(ledger, "free", provider="azure", amount="200")
    results = {r.provider: r for r in credit_sync.sync(ledger, NOW, providers=["gcp", "azure"])}
    assert results["gcp"].source == "estimate" and "estimate" in results["gcp"].note
    assert "no MCA billing profile" in results["azure"].stale_reason
    assert ledger.observations(by_name(ledger)["trial"].grant.id) == []  # an estimate is not an observation
