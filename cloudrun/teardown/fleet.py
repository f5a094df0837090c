"""What cloudrun has deployed, reconciled with what the clouds say (the cloud is the source of truth).

`reconcile` adopts tagged deployments missing from state (orphans of a crash, half-made sets included), marks
vanished ones and updates statuses. A look-alike (tagged, with parts lacking the tag) is reported, never adopted:
nothing would ever delete it. A dry run writes nothing and says what it would adopt. Removing deployments is
`cloudrun.teardown.deletion`'s job (one claimed path for every command).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from cloudrun import catalog
from cloudrun import provider as registry
from cloudrun.errors import CloudrunError, Conflict, NotFound
from cloudrun.models import SERVICES, Deployment, DeploymentStatus, Endpoint, EndpointRef, EndpointState
from cloudrun.provider import Provider, ProviderLoader
from cloudrun.state import StateStore, store

_STARTED = {DeploymentStatus.creating, DeploymentStatus.in_service}  # a cloud failure is news only for these
# A deploy under way leaves a half-made set for as long as its create calls take: up to the 15-minute operation
# deadlines (Vertex's LROs, Azure's endpoint). Younger sets without a record beyond `intent` are left to it.
DEPLOY_GRACE = timedelta(minutes=20)


@dataclass
class ReconcileReport:
    adopted: list[str] = field(default_factory=list)  # or, on a dry run, would be
    vanished: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # providers not scanned, and why
    refused: list[str] = field(default_factory=list)  # look-alikes left alone, once each, and why
    waiting: list[str] = field(default_factory=list)  # half-made sets young enough to be a deploy under way
    incomplete: dict[str, str] = field(default_factory=dict)  # name -> what a deploy that stopped part-way left
    previews: dict[str, Deployment] = field(default_factory=dict)  # dry run: the rows adopting would write
    dry_run: bool = False


def reconcile(
    state: StateStore,
    load_provider: ProviderLoader,
    regions: dict[str, Sequence[str]],
    now: datetime | None = None,
    *,
    dry_run: bool = False,
) -> ReconcileReport:
    """Return what changed (or would, on a dry run) after matching state rows with each provider's tagged sets."""
    now = now or datetime.now(timezone.utc)
    report = ReconcileReport(dry_run=dry_run)
    rows = {d.name: d for d in state.list()}
    for provider_name, provider_regions in regions.items():
        try:
            provider = load_provider(provider_name)
            found = provider.list_managed(sorted(set(provider_regions)))
        except CloudrunError as exc:
            report.problems.append(f"{provider_name}: {exc}")
            continue
        seen: dict[str, Endpoint] = {}
        for endpoint in found:
            row = rows.get(endpoint.ref.name)
            if endpoint.untagged and (row is None or row.status is DeploymentStatus.intent):
                report.refused.append(_refusal(endpoint))
            else:
                seen[endpoint.ref.name] = endpoint
        for name, endpoint in seen.items():
            _match(state, rows.get(name), endpoint, provider_name, report, now)
        in_cloud = {e.ref.name for e in found}
        for row in rows.values():
            if row.provider == provider_name and row.name not in in_cloud and row.status.live:
                _missing(state, provider, row, report, now)
    return report


def _refusal(endpoint: Endpoint) -> str:
    ref = endpoint.ref
    return (f"{ref.name} ({ref.provider} {ref.region}) left alone: tagged as cloudrun's, but "
            f"{', '.join(endpoint.untagged)} {'has' if len(endpoint.untagged) == 1 else 'have'} no cloudrun-managed "
            f"tag, so cloudrun neither records nor deletes it")  # fmt: skip


def _match(state: StateStore, row: Deployment | None, endpoint: Endpoint, provider: str, report: ReconcileReport,
           now: datetime) -> None:  # fmt: skip
    if endpoint.incomplete:
        report.incomplete[endpoint.ref.name] = endpoint.failure_reason or "a deploy stopped part-way"
    if row is None or row.status is DeploymentStatus.intent:
        _adopt(state, row, endpoint, provider, report, now)
        return
    if report.dry_run:
        return
    if row.status is DeploymentStatus.creating and endpoint.state is EndpointState.in_service:
        state.mark_ready(row.name, now)
        report.updated.append(row.name)
    elif endpoint.state is EndpointState.failed and row.status in _STARTED:
        state.mark_failed(row.name, endpoint.failure_reason or "failed", now)
        report.updated.append(row.name)


def _adopt(state: StateStore, row: Deployment | None, endpoint: Endpoint, provider: str, report: ReconcileReport,
           now: datetime) -> None:  # fmt: skip
    """Record a tagged set cloudrun has no live row for (or only an intent), unless a deploy may still be making it."""
    name = endpoint.ref.name
    if endpoint.incomplete and _young(row, endpoint, now):
        report.incomplete.pop(name, None)
        report.waiting.append(f"{name}: {endpoint.failure_reason}; younger than {DEPLOY_GRACE}, so a deploy may "
                              f"still be making it (left for now)")  # fmt: skip
        return
    if report.dry_run:
        report.previews[name] = store.adoption(endpoint, row, service=SERVICES[provider], now=now)
        report.adopted.append(name)
        return
    try:
        state.adopt(endpoint, service=SERVICES[provider], now=now)
    except Conflict:
        return  # another cloudrun process adopted it a moment ago
    report.adopted.append(name)


def _young(row: Deployment | None, endpoint: Endpoint, now: datetime) -> bool:
    """Return whether a half-made set may belong to a deploy still under way (its intent row or its parts are new)."""
    times = [t for t in (endpoint.created_at, row.created_at if row else None) if t is not None]
    return bool(times) and now - max(times) < DEPLOY_GRACE


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
    if report.dry_run:
        report.vanished.append(row.name)
        return
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
