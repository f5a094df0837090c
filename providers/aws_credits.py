"""AWS credit, read on `cloudrun credits sync` only: the Free/Paid plan (freetier) and, asked for, Cost Explorer.

- Free/Paid plan: `freetier.get_account_plan_state` gives the remaining credit and its expiry (free of charge).
- Other credits: Cost Explorer `get_cost_and_usage` filtered on RECORD_TYPE = Credit gives the credit *applied*
  so far, not the balance; each request costs $0.01, so only with `--cost-explorer`.

Calls go through aws_client.AwsSession (AWS's one error table, `cloudrun.retry`) to a short deadline.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from cloudrun.credits.ledger import Ledger, LedgerGrant, Observation, new_id
from cloudrun.credits.sync import (
    COST_EXPLORER_USD_PER_CALL,
    DEADLINE_S,
    SyncRequest,
    SyncResult,
    active,
    sandboxed,
    stale,
)
from cloudrun.errors import CloudrunError

from .aws_client import AwsSession

REGION = "us-east-1"  # freetier and Cost Explorer answer in us-east-1
_PLAN_PRESETS = {"FREE": "aws-free-plan", "PAID": "aws-paid-plan"}


def sync(request: SyncRequest) -> list[SyncResult]:
    """Return what AWS said: the Free/Paid plan credit, and with `cost_explorer` the credit applied so far."""
    session = AwsSession(request.clients.aws, sleep=request.clients.sleep, deadline_s=DEADLINE_S)
    results = _plan(request.ledger, request.now, session)
    if request.cost_explorer:
        results += _cost_explorer(request.ledger, request.now, session)
    return results


def _plan(ledger: Ledger, now: datetime, session: AwsSession) -> list[SyncResult]:
    """Return the Free/Paid plan credit from freetier, saved on the matching plan grant (made if missing)."""
    source = "aws-freetier"
    plan_grants = [g for g in active(ledger, "aws", now) if g.preset in _PLAN_PRESETS.values()]
    if sandboxed():
        return [SyncResult("aws", source, None, None, "skipped in the sandbox: moto cannot serve freetier")]
    try:
        state = session.call("freetier", REGION, "get_account_plan_state")
    except CloudrunError as exc:
        return stale(ledger, plan_grants, "aws", source, now, f"freetier: {exc}")
    credits = state.get("accountPlanRemainingCredits") or {}
    preset = _PLAN_PRESETS.get(state.get("accountPlanType", ""), "aws-free-plan")
    grant = next((g for g in plan_grants if g.preset == preset), None)
    if credits.get("unit", "USD") != "USD":
        return stale(ledger, [grant] if grant else [], "aws", source, now, f"credit in {credits['unit']}, not USD")
    remaining = Decimal(str(credits.get("amount", 0))).quantize(Decimal("0.01"))
    expires = state.get("accountPlanExpirationDate")
    if grant is None:
        if state.get("accountPlanStatus") != "ACTIVE" or expires is None:
            return [SyncResult("aws", source, None, remaining, None, f"plan {state.get('accountPlanStatus')}")]
        grant = ledger.add(_live_plan_grant(preset, remaining, expires, state.get("accountId", "default"), now))
    ledger.observe(Observation(grant.id, now, remaining, source, expires_at=expires))
    return [SyncResult("aws", source, grant.name, remaining, None, f"{preset}: expires {expires:%Y-%m-%d}"
                       if expires else preset)]  # fmt: skip


def _live_plan_grant(preset: str, remaining: Decimal, expires: datetime, account: str, now: datetime) -> LedgerGrant:
    return LedgerGrant(
        id=new_id(), provider="aws", account=account, name=preset, amount_usd=remaining,
        starts_at=min(now, expires - timedelta(days=183)), expires_at=expires, services=("sagemaker",),
        gpu_eligible=preset == "aws-paid-plan", source="live", preset=preset, created_at=now,
        notes="found by `credits sync` (freetier); original amount unknown (up to $200); Free-plan GPU use "
        "unverified: `credits remove` it and add --preset aws-free-plan --gpu-eligible to count it",
    )  # fmt: skip


def _cost_explorer(ledger: Ledger, now: datetime, session: AwsSession) -> list[SyncResult]:
    """Return the credit applied so far by Cost Explorer ($0.01 per request), as the sole AWS grant's balance."""
    source = "aws-cost-explorer"
    grants = active(ledger, "aws", now)
    if len(grants) != 1:
        why = "no AWS credit in the ledger" if not grants else f"{len(grants)} AWS credits: Cost Explorer "
        why += "" if not grants else "reports the credit applied to all of them together, not per credit"
        return stale(ledger, grants, "aws", source, now, why)
    grant = grants[0]
    try:
        applied, calls = _credit_applied(session, grant.starts_at, now)
    except CloudrunError as exc:
        return stale(ledger, grants, "aws", source, now, f"Cost Explorer: {exc}")
    remaining = max(Decimal(0), grant.amount_usd - applied)
    ledger.observe(Observation(grant.id, now, remaining, source))
    cost = COST_EXPLORER_USD_PER_CALL * calls
    note = f"${applied:,.2f} applied since {grant.starts_at:%Y-%m-%d}; {calls} Cost Explorer request(s) cost ${cost}"
    return [SyncResult("aws", source, grant.name, remaining, None, note)]


def _credit_applied(session: AwsSession, since: datetime, now: datetime) -> tuple[Decimal, int]:
    """Return the credit applied since `since` (a positive amount) and how many requests it took."""
    params: dict[str, Any] = {
        "TimePeriod": {"Start": f"{max(since, now - timedelta(days=365)):%Y-%m-%d}",
                       "End": f"{now + timedelta(days=1):%Y-%m-%d}"},
        "Granularity": "MONTHLY",
        "Metrics": ["UnblendedCost"],
        "Filter": {"Dimensions": {"Key": "RECORD_TYPE", "Values": ["Credit"]}},
    }  # fmt: skip
    total, calls = Decimal(0), 0
    while True:
        page = session.call("ce", REGION, "get_cost_and_usage", params)
        calls += 1
        for period in page.get("ResultsByTime", []):
            total += Decimal(period.get("Total", {}).get("UnblendedCost", {}).get("Amount", "0"))
        if not page.get("NextPageToken"):
            return -total, calls  # credits are negative costs
        params["NextPageToken"] = page["NextPageToken"]
