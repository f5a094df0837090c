"""Live credit balances, read only on `cloudrun credits sync`: never implicitly, never blocking a plan.

- AWS Free/Paid plan: `freetier.get_account_plan_state` (remaining credit and expiry; free of charge).
- AWS other credits: Cost Explorer `get_cost_and_usage` filtered on RECORD_TYPE = Credit gives the credit
  *applied* so far, not the balance; each request costs $0.01, so only with `--cost-explorer`.
- Azure (Microsoft Customer Agreement billing profiles only): Consumption `credits/balanceSummary`.
- Google: no API reports trial credit; the balance is cloudrun's estimate from its own records.

Each result is saved as a dated observation. A call that fails or is not permitted saves a *stale*
observation with the reason, and the ledger keeps using its last value. Retries: `cloudrun.retry` only
(the boto3 clients have the SDK's retries off), to a short deadline.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from cloudrun import retry
from cloudrun.errors import AuthError, CloudrunError, Transient
from cloudrun.ledger import Ledger, LedgerGrant, Observation, new_id

COST_EXPLORER_USD_PER_CALL = Decimal("0.01")
AZURE_PROFILE_ENV = "CLOUDRUN_AZURE_BILLING_PROFILE"
AZURE_URL = "https://management.azure.com{profile}/providers/Microsoft.Consumption/credits/balanceSummary"
AZURE_API_VERSION = "2019-10-01"
_DEADLINE_S = 10.0
_PLAN_PRESETS = {"FREE": "aws-free-plan", "PAID": "aws-paid-plan"}


@dataclass(frozen=True)
class SyncResult:
    """What one live read said about one grant (grant None when no grant could take it)."""

    provider: str
    source: str
    grant: str | None
    remaining_usd: Decimal | None
    stale_reason: str | None = None
    note: str = ""


@dataclass
class Clients:
    """The seams: a boto3 client factory (service, region) -> client, and an Azure token getter."""

    aws: Callable[[str, str], Any] | None = None
    azure_token: Callable[[], str] | None = None
    sleep: Callable[[float], None] | None = None


def sandboxed() -> bool:
    return os.environ.get("CLOUDRUN_SANDBOX") == "1"


def sync(
    ledger: Ledger,
    now: datetime,
    *,
    providers: Sequence[str] = ("aws", "azure", "gcp"),
    cost_explorer: bool = False,
    azure_billing_profile: str | None = None,
    clients: Clients | None = None,
) -> list[SyncResult]:
    """Return what each live source said; each answer (or failure) is saved as an observation."""
    clients = clients or Clients()
    results: list[SyncResult] = []
    if "aws" in providers:
        results += _aws_plan(ledger, now, clients)
        if cost_explorer:
            results += _aws_cost_explorer(ledger, now, clients)
    if "azure" in providers:
        results += _azure(ledger, now, azure_billing_profile or os.environ.get(AZURE_PROFILE_ENV), clients)
    if "gcp" in providers:
        results += _gcp_estimate(ledger, now)
    return results


def _active(ledger: Ledger, provider: str, now: datetime) -> list[LedgerGrant]:
    return [g for g in ledger.grants() if g.provider == provider and g.expires_at > now]


def _stale(
    ledger: Ledger, grants: Sequence[LedgerGrant], provider: str, source: str, now: datetime, reason: str
) -> list[SyncResult]:
    """Return stale results, saving a stale observation on each grant so `cloudrun credits` shows why."""
    for grant in grants:
        ledger.observe(Observation(grant.id, now, None, source, stale_reason=reason))
    return [SyncResult(provider, source, g.name, None, reason) for g in grants] or [
        SyncResult(provider, source, None, None, reason)
    ]


# --- AWS --------------------------------------------------------------------------------------------------


def _aws_client(clients: Clients, service: str) -> Any:
    if clients.aws is None:
        from cloudrun.providers.aws import default_client_factory

        clients.aws = default_client_factory()
    return clients.aws(service, "us-east-1")


def _aws_call(clients: Clients, fn: Callable[..., Any], **params: Any) -> Any:
    """Return fn(**params), its errors as cloudrun errors, retried by cloudrun.retry to a short deadline."""
    from botocore.exceptions import BotoCoreError, ClientError

    from cloudrun.providers.aws import _translate

    def once() -> Any:
        try:
            return fn(**params)
        except (BotoCoreError, ClientError) as exc:  # translated in the AWS adapter's one place
            raise _translate(exc) from exc

    return retry.call(once, deadline_s=_DEADLINE_S, sleep=clients.sleep)


def _aws_plan(ledger: Ledger, now: datetime, clients: Clients) -> list[SyncResult]:
    """Return the Free/Paid plan credit from freetier, saved on the matching plan grant (made if missing)."""
    source = "aws-freetier"
    plan_grants = [g for g in _active(ledger, "aws", now) if g.preset in _PLAN_PRESETS.values()]
    if sandboxed():
        return [SyncResult("aws", source, None, None, "skipped in the sandbox: moto cannot serve freetier")]
    try:
        client = _aws_client(clients, "freetier")
        state = _aws_call(clients, client.get_account_plan_state)
    except CloudrunError as exc:
        return _stale(ledger, plan_grants, "aws", source, now, f"freetier: {exc}")
    credits = state.get("accountPlanRemainingCredits") or {}
    preset = _PLAN_PRESETS.get(state.get("accountPlanType", ""), "aws-free-plan")
    grant = next((g for g in plan_grants if g.preset == preset), None)
    if credits.get("unit", "USD") != "USD":
        return _stale(ledger, [grant] if grant else [], "aws", source, now, f"credit in {credits['unit']}, not USD")
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


def _aws_cost_explorer(ledger: Ledger, now: datetime, clients: Clients) -> list[SyncResult]:
    """Return the credit applied so far by Cost Explorer ($0.01 per request), as the sole AWS grant's balance."""
    source = "aws-cost-explorer"
    grants = _active(ledger, "aws", now)
    if len(grants) != 1:
        why = "no AWS credit in the ledger" if not grants else f"{len(grants)} AWS credits: Cost Explorer "
        why += "" if not grants else "reports the credit applied to all of them together, not per credit"
        return _stale(ledger, grants, "aws", source, now, why)
    grant = grants[0]
    try:
        client = _aws_client(clients, "ce")
        applied, calls = _credit_applied(clients, client, grant.starts_at, now)
    except CloudrunError as exc:
        return _stale(ledger, grants, "aws", source, now, f"Cost Explorer: {exc}")
    remaining = max(Decimal(0), grant.amount_usd - applied)
    ledger.observe(Observation(grant.id, now, remaining, source))
    cost = COST_EXPLORER_USD_PER_CALL * calls
    note = f"${applied:,.2f} applied since {grant.starts_at:%Y-%m-%d}; {calls} Cost Explorer request(s) cost ${cost}"
    return [SyncResult("aws", source, grant.name, remaining, None, note)]


def _credit_applied(clients: Clients, client: Any, since: datetime, now: datetime) -> tuple[Decimal, int]:
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
        page = _aws_call(clients, client.get_cost_and_usage, **params)
        calls += 1
        for period in page.get("ResultsByTime", []):
            total += Decimal(period.get("Total", {}).get("UnblendedCost", {}).get("Amount", "0"))
        if not page.get("NextPageToken"):
            return -total, calls  # credits are negative costs
        params["NextPageToken"] = page["NextPageToken"]


# --- Azure and Google ---------------------------------------------------------------------------------------


def _azure(ledger: Ledger, now: datetime, profile: str | None, clients: Clients) -> list[SyncResult]:
    """Return the MCA billing profile's credit balance, saved on the sole active Azure grant."""
    source = "azure-consumption"
    grants = _active(ledger, "azure", now)
    if sandboxed():
        return [SyncResult("azure", source, None, None, "skipped in the sandbox: no fake for Consumption")]
    if not profile:
        why = (f"no MCA billing profile configured (free and student accounts have none): set {AZURE_PROFILE_ENV} "
               "or pass --billing-profile; the ledger's estimate is used")  # fmt: skip
        return _stale(ledger, grants, "azure", source, now, why)
    if len(grants) != 1:
        why = f"{len(grants)} active Azure credits: the billing profile's balance cannot be split between them"
        return _stale(ledger, grants, "azure", source, now, why)
    try:
        amount, currency = _azure_balance(profile, clients)
    except CloudrunError as exc:
        return _stale(ledger, grants, "azure", source, now, f"Consumption credits: {exc}")
    if currency != "USD":
        return _stale(ledger, grants, "azure", source, now, f"balance is in {currency}, not USD: not supported yet")
    ledger.observe(Observation(grants[0].id, now, amount, source))
    return [SyncResult("azure", source, grants[0].name, amount)]


def _azure_balance(profile: str, clients: Clients) -> tuple[Decimal, str]:
    """Return (balance, currency) from Consumption credits/balanceSummary; raise cloudrun errors."""
    import requests

    token = clients.azure_token or _default_azure_token
    url = AZURE_URL.format(profile="/" + profile.strip("/"))

    def once() -> requests.Response:
        try:
            return requests.get(url, params={"api-version": AZURE_API_VERSION}, timeout=_DEADLINE_S,
                                headers={"Authorization": f"Bearer {token()}"})  # fmt: skip
        except requests.RequestException as exc:
            raise Transient(f"could not reach Azure: {exc}") from exc

    response = retry.call(once, deadline_s=_DEADLINE_S, sleep=clients.sleep)
    if response.status_code in (401, 403):
        raise AuthError(f"HTTP {response.status_code}: not permitted", hint="needs Billing profile reader or owner")
    if response.status_code >= 400:
        raise CloudrunError(f"HTTP {response.status_code}: {response.text[:200]}")
    summary = response.json().get("properties", {}).get("balanceSummary", {})
    balance = summary.get("estimatedBalance") or summary.get("currentBalance") or {}
    return Decimal(str(balance.get("value", 0))), str(balance.get("currency", "USD"))


def _default_azure_token() -> str:
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError as exc:
        raise CloudrunError("azure-identity is not installed", hint="pip install 'cloudrun-llm[azure]'") from exc
    try:
        return DefaultAzureCredential().get_token("https://management.azure.com/.default").token
    except Exception as exc:  # azure-identity raises its own ClientAuthenticationError family
        raise AuthError(f"no usable Azure credentials: {exc}", hint="run `az login`") from exc


def _gcp_estimate(ledger: Ledger, now: datetime) -> list[SyncResult]:
    """Return cloudrun's estimate for each Google grant: no API reports trial or promotional credit."""
    note = "estimate from cloudrun's own records: Google has no API for this credit"
    return [
        SyncResult("gcp", "estimate", b.grant.name, b.remaining_usd, None, note)
        for b in ledger.balances(now)
        if b.grant.provider == "gcp" and b.expires_at > now
    ]
