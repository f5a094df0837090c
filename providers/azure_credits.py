"""Azure credit, read on `cloudrun credits sync` only: Consumption `credits/balanceSummary` of a Microsoft
Customer Agreement billing profile (free and student accounts have none; their credit is the ledger's estimate).

One ARM GET with a token from DefaultAzureCredential, its error answers read by Azure's one error table
(azure_client.translate), retried by `cloudrun.retry` to a short deadline.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import requests

from cloudrun import retry
from cloudrun.credits.ledger import Observation
from cloudrun.credits.sync import (
    AZURE_PROFILE_ENV,
    DEADLINE_S,
    Clients,
    SyncRequest,
    SyncResult,
    active,
    sandboxed,
    stale,
)
from cloudrun.errors import AuthError, CloudrunError

from .azure_client import PUBLIC_ARM, ArmRestError, default_credential, rest_get, translate

PATH = "{profile}/providers/Microsoft.Consumption/credits/balanceSummary"
URL = PUBLIC_ARM + PATH
API_VERSION = "2019-10-01"


def sync(request: SyncRequest) -> list[SyncResult]:
    """Return the MCA billing profile's credit balance, saved on the sole active Azure grant."""
    ledger, now, profile = request.ledger, request.now, request.azure_billing_profile
    source = "azure-consumption"
    grants = active(ledger, "azure", now)
    if sandboxed():
        return [SyncResult("azure", source, None, None, "skipped in the sandbox: no fake for Consumption")]
    if not profile:
        why = (f"no MCA billing profile configured (free and student accounts have none): set {AZURE_PROFILE_ENV} "
               "or pass --billing-profile; the ledger's estimate is used")  # fmt: skip
        return stale(ledger, grants, "azure", source, now, why)
    if len(grants) != 1:
        why = f"{len(grants)} active Azure credits: the billing profile's balance cannot be split between them"
        return stale(ledger, grants, "azure", source, now, why)
    try:
        amount, currency = _balance(profile, request.clients)
    except CloudrunError as exc:
        return stale(ledger, grants, "azure", source, now, f"Consumption credits: {exc}")
    if currency != "USD":
        return stale(ledger, grants, "azure", source, now, f"balance is in {currency}, not USD: not supported yet")
    ledger.observe(Observation(grants[0].id, now, amount, source))
    return [SyncResult("azure", source, grants[0].name, amount)]


def _balance(profile: str, clients: Clients) -> tuple[Decimal, str]:
    """Return (balance, currency) from Consumption credits/balanceSummary; raise cloudrun errors."""
    token = (clients.azure_token or _default_token)()
    url = URL.format(profile="/" + profile.strip("/"))

    def once() -> Any:
        try:
            return rest_get(url, token, {"api-version": API_VERSION}, timeout_s=DEADLINE_S)
        except ArmRestError as exc:
            raise _not_permitted(exc) if exc.status_code in (401, 403) else translate(exc) from exc
        except requests.RequestException as exc:
            raise translate(exc) from exc

    body = retry.call(once, deadline_s=DEADLINE_S, sleep=clients.sleep)
    summary = body.get("properties", {}).get("balanceSummary", {})
    balance = summary.get("estimatedBalance") or summary.get("currentBalance") or {}
    return Decimal(str(balance.get("value", 0))), str(balance.get("currency", "USD"))


def _not_permitted(exc: ArmRestError) -> AuthError:
    return AuthError(f"HTTP {exc.status_code}: not permitted ({exc})", hint="needs Billing profile reader or owner")


def _default_token() -> str:
    try:
        credential = default_credential()
    except ImportError as exc:
        raise CloudrunError("azure-identity is not installed", hint="pip install 'cloudrun-llm[azure]'") from exc
    try:
        return credential.get_token("https://management.azure.com/.default").token
    except Exception as exc:  # azure-identity raises its own ClientAuthenticationError family
        raise AuthError(f"no usable Azure credentials: {exc}", hint="run `az login`") from exc
