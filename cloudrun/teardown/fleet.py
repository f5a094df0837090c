"""What cloudrun has deployed, reconciled with what the clouds say (the cloud is the source of truth).

`reconcile` adopts tagged endpoints missing from state (orphans of a crash), marks vanished ones and
updates statuses. Removing deployments is `cloudrun.teardown.deletion`'s job (one claimed path for every command).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from cloudrun import catalog
from cloudrun import provider as registry
from cloudrun.errors import CloudrunError, Conflict, NotFound
from cloudrun.models import SERVICES, Deployment, DeploymentStatus, Endpoint, EndpointRef, EndpointState
from cloudrun.provider import Provider, ProviderLoader
from cloudrun.state import StateStore

_STARTED = {DeploymentStatus.creating, DeploymentStatus.in_service}  # a cloud failure is news only for these


@dataclass
class ReconcileReport:
    adopted: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # providers not scanned, and why


def reconcile(
    state: StateStore, load_provider: ProviderLoader, regions: dict[str, Sequence[str]], now: datetime | None = None
) -> ReconcileReport:
    """Return what changed after matching state rows with each provider's tagged endpoints."""
    now = now or datetime.now(timezone.utc)
    report = ReconcileReport()
    rows = {d.name: d for d in state.list()}
    for provider_name, provider_regions in regions.items():
        try:
            provider = load_provider(provider_name)
            found = provider.list_managed(sorted(set(provider_regions)))
        except CloudrunError as exc:
            report.problems.append(f"{provider_name}: {exc}")
            continue
        seen = {endpoint.ref.name: endpoint for endpoint in found}
        for name, endpoint in seen.items():
            _match(state, rows.get(name), endpoint, provider_name, report, now)
        for row in rows.values():
            if row.provider == provider_name and row.name not in seen and row.status.live:
                _missing(state, provider, row, report, now)
    return report


def _match(state: StateStore, row: Deployment | None, endpoint: Endpoint, provider: str, report: ReconcileReport,
           now: datetime) -> None:  # fmt: skip
    if row is None or row.status is DeploymentStatus.intent:
        try:
            state.adopt(endpoint, service=SERVICES[provider], now=now)
        except Conflict:
            return  # another cloudrun process adopted it a moment ago
        report.adopted.append(endpoint.ref.name)
        return
    if row.status is DeploymentStatus.creating and endpoint.state is EndpointState.in_service:
        state.mark_ready(row.name, now)
        report.updated.append(row.name)
    elif endpoint.state is EndpointState.failed and row.status in _STARTED:
        state.mark_failed(row.name, endpoint.failure_reason or "failed", now)
        report.updated.append(row.name)


def _missing(state: StateStore, provider: Provider, row: Deployment, report: ReconcileReport, now: datetime) -> None:
    """A live row whose endpoint the tag search did not return: confirm with describe before calling it gone."""
    if row.ref is not None:
        try:
            provider.describe(row.ref)
            return  # still there (e.g. its tags were changed); leave it
        except NotFound:
            pass
        except CloudrunError as exc:
            report.problems.append(f"{row.name}: {exc}")
            return
    if row.status is DeploymentStatus.intent and row.ref is None and (now - row.created_at).total_seconds() < 600:
        return  # a deploy may be starting right now in another process
    if row.status is DeploymentStatus.deleting:  # the delete cloudrun asked for is done: deleted, not vanished
        state.mark_deleted(row.name, now, reason="found gone after its delete was asked")
        report.updated.append(row.name)
        return
    state.mark_vanished(row.name, now, reason="not found in the cloud")
    report.vanished.append(row.name)


def scan_regions(
    state: StateStore, load_provider: ProviderLoader, providers: Sequence[str] | None = None
) -> tuple[dict[str, list[str]], list[str]]:
    """Return, per provider to scan, the catalog's regions plus those with recorded deployments; and the
    providers skipped, with why. A provider is scanned where cloudrun recorded deployments, or where its
    credentials work (so orphans are found on a new machine); an unconfigured one is skipped, not an error.
    """
    recorded: dict[str, set[str]] = {}
    for row in state.list():
        recorded.setdefault(row.provider, set()).add(row.region)
    scan: dict[str, list[str]] = {}
    skipped: list[str] = []
    for name in registry.registry():
        if providers and name not in providers:
            continue
        if name not in recorded and not _configured(load_provider, name):
            skipped.append(f"{name}: no usable credentials (see `cloudrun check`)")
            continue
        scan[name] = sorted(recorded.get(name, set()) | {o.region for o in catalog.offers(providers=[name])})
    return scan, skipped


def _configured(load_provider: ProviderLoader, name: str) -> bool:
    try:
        return load_provider(name).check().credentials_ok
    except Exception:  # noqa: BLE001 - an adapter that cannot even check is not usable here
        return False


def find_ref(provider: Provider, row: Deployment) -> EndpointRef | None:
    """Return the row's endpoint reference, searching the cloud by tag when a crash left none."""
    if row.ref is not None:
        return row.ref
    for endpoint in provider.list_managed([row.region]):
        if endpoint.ref.name == row.name:
            return endpoint.ref
    return None
