"""The pure teardown rules: idleness with its missing-data rule, the budget guard's arithmetic, durations."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from cloudrun.errors import InvalidInput
from cloudrun.inputs import parse_duration
from cloudrun.models import Deployment, DeploymentStatus, Limits
from cloudrun.teardown import idle as reaper
from cloudrun.teardown.idle import Candidate, Policy, decide, find_idle

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
M30 = timedelta(minutes=30)


def candidate(name: str = "ds", *, age: timedelta = timedelta(hours=2), price: str = "10", cost: str = "0",
              status: DeploymentStatus = DeploymentStatus.in_service, **limits: object) -> Candidate:  # fmt: skip
    return Candidate(name=name, provider="aws", region="us-east-1", status=status, since=NOW - age,
                     created_at=NOW - age, price_per_hour_usd=Decimal(price), cost_so_far_usd=Decimal(cost),
                     limits=Limits(**limits))  # type: ignore[arg-type]  # fmt: skip


def one(decisions: list[reaper.Decision]) -> reaper.Decision:
    assert len(decisions) == 1
    return decisions[0]


# --- idleness -----------------------------------------------------------------------------------------


def test_an_old_endpoint_without_invocations_is_idle() -> None:
    decision = one(find_idle([candidate()], {"ds": 0}, NOW, M30))
    assert decision.delete and decision.rule == "idle" and "no invocations in the last 30m" in decision.reason


def test_seeded_invocations_keep_an_endpoint() -> None:
    decision = one(find_idle([candidate()], {"ds": 7}, NOW, M30))
    assert not decision.delete and decision.rule == "active" and "7 invocations" in decision.reason


def test_a_young_endpoint_is_never_idle_even_without_data() -> None:
    decision = one(find_idle([candidate(age=timedelta(minutes=29))], {"ds": 0}, NOW, M30))
    assert not decision.delete and decision.rule == "young"


def test_exactly_as_old_as_the_window_counts_as_old_enough() -> None:
    assert one(find_idle([candidate(age=M30)], {"ds": 0}, NOW, M30)).delete


def test_unknown_metrics_keep_the_endpoint_and_say_why() -> None:
    for counts in ({"ds": None}, {}):  # None from the adapter, or never asked
        decision = one(find_idle([candidate()], counts, NOW, M30))
        assert not decision.delete and decision.rule == "metrics_unavailable"
        assert "never deleted on missing evidence" in decision.reason


def test_only_in_service_endpoints_can_be_idle() -> None:
    for status in (DeploymentStatus.creating, DeploymentStatus.failed):
        decision = one(find_idle([candidate(status=status)], {"ds": 0}, NOW, M30))
        assert not decision.delete and decision.rule == "not_in_service"


def test_no_idle_rule_without_a_window() -> None:
    assert one(find_idle([candidate()], {"ds": 0}, NOW, None)).rule == "no_idle_rule"


def test_the_deployments_own_idle_timeout_applies_when_shorter() -> None:
    own = candidate(idle_timeout=timedelta(minutes=10), age=timedelta(minutes=20))
    assert reaper.needs_invocations(own, NOW, timedelta(hours=2)) == timedelta(minutes=10)
    decision = one(find_idle([own], {"ds": 0}, NOW, timedelta(hours=2)))
    assert decision.delete and decision.rule == "idle_timeout"
    assert reaper.needs_invocations(candidate(age=timedelta(minutes=5)), NOW, M30) is None  # young: no metric call


# --- budget guard ---------------------------------------------------------------------------------------


def test_ttl_passed_deletes_even_a_busy_endpoint() -> None:
    busy = candidate(ttl=timedelta(hours=8), age=timedelta(hours=8, minutes=1))
    decision = one(decide([busy], {"ds": 500}, NOW, Policy(idle_for=M30)))
    assert decision.delete and decision.rule == "ttl" and "--ttl 8h passed" in decision.reason
    assert not one(decide([candidate(ttl=timedelta(hours=8))], {"ds": 5}, NOW, Policy())).delete


def test_max_spend_deletes_when_the_cap_would_be_crossed_before_the_next_check() -> None:
    # $10/h, $19.10 so far, next check in 5 min: 19.10 + 10 x 5/60 = 19.93 <= 20 -> keep; 19.20 -> 20.03 > 20 -> delete
    policy = Policy(interval=timedelta(minutes=5))
    kept = candidate(cost="19.10", max_spend_usd=Decimal(20))
    assert not one(decide([kept], {"ds": 3}, NOW, policy)).delete
    crossing = candidate(cost="19.20", max_spend_usd=Decimal(20))
    decision = one(decide([crossing], {"ds": 3}, NOW, policy))
    assert decision.delete and decision.rule == "max_spend" and "$20.03" in decision.reason
    # a longer interval makes the same deployment cross sooner
    assert one(decide([kept], {"ds": 3}, NOW, Policy(interval=timedelta(minutes=6)))).delete


def test_watch_max_spend_applies_where_the_deployment_set_none() -> None:
    policy = Policy(max_spend_usd=Decimal(5))
    assert one(decide([candidate(cost="5")], {}, NOW, policy)).rule == "max_spend"
    assert not one(decide([candidate(cost="5", max_spend_usd=Decimal(50))], {"ds": 1}, NOW, policy)).delete


def test_credit_running_out_between_checks_deletes() -> None:
    policy = Policy(interval=timedelta(minutes=5))
    soon = {"ds": NOW + timedelta(minutes=4)}
    decision = one(decide([candidate()], {"ds": 9}, NOW, policy, credit_runs_out=soon))
    assert decision.delete and decision.rule == "credit"
    later = {"ds": NOW + timedelta(minutes=6)}
    assert not one(decide([candidate()], {"ds": 9}, NOW, policy, credit_runs_out=later)).delete
    assert not one(decide([candidate()], {"ds": 9}, NOW, policy, credit_runs_out={"ds": None})).delete


def test_monthly_cap_removes_the_most_expensive_first_until_within_it() -> None:
    # spent $90; next 6 min: big $40/h -> $4, small $10/h -> $1: 95 > 94 -> remove big -> 91 <= 94
    endpoints = [candidate("big", price="40"), candidate("small", price="10")]
    policy = Policy(interval=timedelta(minutes=6), monthly_cap_usd=Decimal(94))
    decisions = {d.name: d for d in decide(endpoints, {"big": 1, "small": 1}, NOW, policy,
                                           month_spent_usd=Decimal(90))}  # fmt: skip
    assert decisions["big"].rule == "monthly_cap" and not decisions["small"].delete
    everything = decide(endpoints, {}, NOW, policy, month_spent_usd=Decimal(100))
    assert all(d.rule == "monthly_cap" for d in everything)


def test_month_to_date_counts_only_this_month_and_removed_deployments_too() -> None:
    def row(name: str, created: datetime, deleted: datetime | None) -> Deployment:
        return Deployment(name=name, model_id="m", provider="aws", service="sagemaker", region="us-east-1",
                          instance_type="ml.g5.xlarge", gpu_count=1, price_per_hour_usd=Decimal(2), price_source="t",
                          status=DeploymentStatus.deleted if deleted else DeploymentStatus.in_service,
                          created_at=created, deleted_at=deleted)  # fmt: skip

    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    rows = [
        row("old", start - timedelta(hours=5), start + timedelta(hours=1)),
        row("now", NOW - timedelta(hours=3), None),
    ]
    assert reaper.month_to_date_usd(rows, NOW) == Decimal(2) * 1 + Decimal(2) * 3


# --- durations -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"), [("30m", 1800), ("8h", 28800), ("2d", 172800), ("90s", 90), ("1.5h", 5400)]
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "30", "m", "-5m", "0m", "5 weeks", "30x", "1h30m"])
def test_parse_duration_refuses_bad_input(text: str) -> None:
    with pytest.raises(InvalidInput, match="is not a duration"):
        parse_duration(text)


def test_show_reads_like_the_flags() -> None:
    assert [reaper.show(timedelta(seconds=s)) for s in (45, 1800, 7500, 28800, 273600)] == [
        "45s", "30m", "2h05m", "8h", "3d4h",
    ]  # fmt: skip
