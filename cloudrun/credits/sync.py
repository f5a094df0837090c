"""Live credit balances, read only on `cloudrun credits sync`: never implicitly, never blocking a plan.

Each cloud's reader is the function its `cloudrun.balances` entry point names (providers/aws_credits.py: the
Free/Paid plan from freetier, and Cost Explorer's applied credit with `--cost-explorer`, $0.01 a request;
providers/azure_credits.py: Consumption `credits/balanceSummary` of an MCA billing profile). Google has no API
for trial or promotional credit: its balance is cloudrun's estimate from its own records, computed here.

Each result is saved as a dated observation. A call that fails or is not permitted saves a *stale*
observation with the reason, and the ledger keeps using its last value. A reader whose SDK is missing is
stale with the install hint; the others still run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from cloudrun import provider as registry
from cloudrun.credits.ledger import Ledger, LedgerGrant, Observation
from cloudrun.errors import CloudrunError

COST_EXPLORER_USD_PER_CALL = Decimal("0.01")  # `credits sync --cost-explorer` (AWS bills each request)
AZURE_PROFILE_ENV = "CLOUDRUN_AZURE_BILLING_PROFILE"  # `credits sync --billing-profile`'s default
DEADLINE_S = 10.0  # live reads give up sooner than deploys


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


@dataclass
class SyncRequest:
    """What a cloud's reader gets: the ledger to save into, the time, the seams and the asked options."""

    ledger: Ledger
    now: datetime
    clients: Clients = field(default_factory=Clients)
    cost_explorer: bool = False
    azure_billing_profile: str | None = None


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
    request = SyncRequest(ledger, now, clients or Clients(), cost_explorer,
                          azure_billing_profile or os.environ.get(AZURE_PROFILE_ENV))  # fmt: skip
    readers = registry.registry(registry.BALANCES_GROUP)
    results: list[SyncResult] = []
    for name in providers:
        if name in readers:
            results += _read(name, request)
        elif name == "gcp":
            results += _gcp_estimate(ledger, now)
    return results


def _read(name: str, request: SyncRequest) -> list[SyncResult]:
    try:
        reader = registry.hook(registry.BALANCES_GROUP, name)
    except CloudrunError as exc:  # its SDK is not installed
        return stale(request.ledger, active(request.ledger, name, request.now), name, "live", request.now, str(exc))
    return reader(request)


def active(ledger: Ledger, provider: str, now: datetime) -> list[LedgerGrant]:
    """Return the provider's grants that have not expired."""
    return [g for g in ledger.grants() if g.provider == provider and g.expires_at > now]


def stale(
    ledger: Ledger, grants: Sequence[LedgerGrant], provider: str, source: str, now: datetime, reason: str
) -> list[SyncResult]:
    """Return stale results, saving a stale observation on each grant so `cloudrun credits` shows why."""
    for grant in grants:
        ledger.observe(Observation(grant.id, now, None, source, stale_reason=reason))
    return [SyncResult(provider, source, g.name, None, reason) for g in grants] or [
        SyncResult(provider, source, None, None, reason)
    ]


def _gcp_estimate(ledger: Ledger, now: datetime) -> list[SyncResult]:
    """Return cloudrun's estimate for each Google grant: no API reports trial or promotional credit."""
    note = "estimate from cloudrun's own records: Google has no API for this credit"
    return [
        SyncResult("gcp", "estimate", b.grant.name, b.remaining_usd, None, note)
        for b in ledger.balances(now)
        if b.grant.provider == "gcp" and b.expires_at > now
    ]
