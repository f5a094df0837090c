"""The library façade: what the CLI, and users' own scripts, call.

Each function takes plain values, raises `cloudrun.errors` exceptions, and never prints or exits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from cloudrun import catalog, credits, deletion, deployer, fleet, ledger, naming, scheduler, sizing
from cloudrun.errors import Conflict, InvalidInput, NotFound
from cloudrun.models import (
    PROVIDERS,
    CheckResult,
    CreditGrant,
    Deployment,
    DeploymentStatus,
    DeploySpec,
    MemoryNeed,
    Plan,
    PlanOption,
    Precision,
)
from cloudrun.providers import base as registry
from cloudrun.providers.base import Provider
from cloudrun.state import StateStore


def size(
    model: str | None,
    *,
    precision: Precision | str | None = None,
    context: int | None = None,
    concurrency: int = 1,
    config: Path | None = None,
) -> MemoryNeed:
    """Return the memory a model needs to serve `context` tokens to `concurrency` requests at once."""
    return sizing.need(model, precision=precision, context=context, concurrency=concurrency, config_path=config)


def to_hours(value: float | str | Decimal) -> Decimal:
    """Return a positive number of hours as a Decimal, or raise InvalidInput."""
    try:
        hours = Decimal(str(value))
    except InvalidOperation as exc:
        raise InvalidInput(f"--hours {value!r} is not a number") from exc
    if not hours.is_finite() or hours <= 0:
        raise InvalidInput(f"--hours must be a positive number of hours, not {value}")
    return hours


def plan(
    model: str | None,
    *,
    precision: Precision | str | None = None,
    context: int | None = None,
    concurrency: int = 1,
    config: Path | None = None,
    hours: float | str | Decimal = 24,
    providers: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    spot: bool = False,
    catalog_file: Path | None = None,
    credits_file: Path | None = None,
    grants: Sequence[CreditGrant] | None = None,
    include_infeasible: bool = False,
    now: datetime | None = None,
) -> Plan:
    """Return every placement for the model, ranked by out-of-pocket cost after credits."""
    run_hours = to_hours(hours)
    need = size(model, precision=precision, context=context, concurrency=concurrency, config=config)
    offers = catalog.offers(catalog_path=catalog_file, providers=providers, regions=regions)
    now = now or datetime.now(timezone.utc)
    if grants is None:  # the ledger, net of what running deployments burn, unless a credits file is given
        grants = credits.load_grants(credits_file) if credits_file else ledger.grants_for_planning(now)
    return scheduler.rank(
        need,
        offers,
        grants,
        hours=run_hours,
        now=now,
        spot=spot,
        include_infeasible=include_infeasible,
        catalog_source=str(catalog_file) if catalog_file else "bundled snapshot",
    )


# --- Deploying and managing endpoints --------------------------------------------------------------------


@dataclass
class DeployPlan:
    """What `deploy` will do: the deployment name, the ranked placements it will try, and what it skipped."""

    name: str
    plan: Plan
    placements: list[PlanOption]
    skipped: dict[str, str] = field(default_factory=dict)  # provider -> why it is not tried

    def spec(self, option: PlanOption) -> DeploySpec:
        need = self.plan.need
        return deployer.spec_for(option, name=self.name, model_id=need.id, context=need.context,
                                 precision=need.precision.value)  # fmt: skip


def provider_loader(options: dict[str, dict[str, Any]] | None = None) -> Callable[[str], Provider]:
    """Return a function that loads each provider adapter once, with its options (e.g. aws role_arn)."""
    loaded: dict[str, Provider] = {}

    def load(name: str) -> Provider:
        if name not in loaded:
            loaded[name] = registry.load(name, **(options or {}).get(name, {}))
        return loaded[name]

    return load


def prepare_deploy(
    model: str | None,
    *,
    cheapest: bool,
    provider: str | None = None,
    region: str | None = None,
    instance_type: str | None = None,
    name: str | None = None,
    **plan_options: Any,
) -> DeployPlan:
    """Return the deploy plan: placements in ranked order, restricted to providers cloudrun can deploy to.

    Without --instance-type this is `--cheapest` within the --provider/--region filters; with it, the
    ranked placements of that instance type (one, when --region is given too).
    """
    if cheapest and instance_type:
        raise InvalidInput("--cheapest chooses the instance type itself", hint="drop --instance-type or --cheapest")
    name = naming.validate(name) if name else None
    result = plan(model, providers=[provider] if provider else None, regions=[region] if region else None,
                  include_infeasible=bool(instance_type), **plan_options)  # fmt: skip
    options = _of_type(result, instance_type) if instance_type else list(result.options)
    skipped = {o.offer.provider: "no deploy adapter yet" for o in options if o.offer.provider not in registry.REGISTRY}
    placements = [o for o in options if o.offer.provider in registry.REGISTRY]
    if not placements:
        why = "; ".join(f"{p}: {reason}" for p, reason in skipped.items()) or "no offer fits this model"
        raise InvalidInput(f"nothing to deploy to ({why})", hint="`cloudrun plan --all` shows why offers were left out")
    return DeployPlan(name or naming.derive(result.need.id), result, placements, skipped)


def _of_type(result: Plan, instance_type: str) -> list[PlanOption]:
    matches = [o for o in result.options if o.offer.instance_type == instance_type and not o.spot]
    if not matches:
        raise InvalidInput(f"{instance_type} is not in the catalog for that provider and region",
                           hint="see `cloudrun plan --all` for the instance types cloudrun knows")  # fmt: skip
    feasible = [o for o in matches if o.fit.feasible]
    if not feasible:
        raise InvalidInput(f"{result.need.id} does not fit {instance_type}: {'; '.join(matches[0].reasons)}")
    return feasible


def dry_run_requests(deploy_plan: DeployPlan, load_provider: Callable[[str], Provider]) -> list[tuple[str, dict]]:
    """Return the exact requests `deploy` would send for its first placement, sending nothing."""
    first = deploy_plan.placements[0]
    return load_provider(first.offer.provider).render_requests(deploy_plan.spec(first))


def deploy(
    deploy_plan: DeployPlan,
    state: StateStore,
    load_provider: Callable[[str], Provider],
    *,
    progress: Callable[[str], None] | None = None,
    policy: deployer.WaitPolicy | None = None,
) -> deployer.DeployResult:
    """Return the deployment in service on the first placement that works; fail over on quota and capacity."""
    ensure_name_free(state, deploy_plan.name)  # before any cloud call, quota reads included
    runner = deployer.Deployer(state, load_provider, policy=policy, progress=progress)
    return runner.run(deploy_plan.placements, deploy_plan.spec)


def status(
    state: StateStore,
    load_provider: Callable[[str], Provider] | None = None,
    *,
    refresh: bool = False,
    include_deleted: bool = False,
) -> tuple[list[Deployment], fleet.ReconcileReport | None]:
    """Return recorded deployments, first reconciled with the clouds when `refresh` is set."""
    report = None
    if refresh:
        load = load_provider or provider_loader()
        regions, skipped = fleet.scan_regions(state, load)
        report = fleet.reconcile(state, load, regions)
        report.skipped.extend(skipped)
    return state.list(include_deleted=include_deleted), report


def ensure_name_free(state: StateStore, name: str) -> None:
    """Raise Conflict if a live deployment already has this name (a removed one's name may be reused)."""
    existing = state.get(name)
    if existing is not None and existing.status not in {DeploymentStatus.deleted, DeploymentStatus.vanished}:
        raise Conflict(f"a deployment named {name!r} already exists ({existing.status.value})",
                       hint=f"choose another --name, or remove it with `cloudrun down {name}`")  # fmt: skip


def live_deployment(state: StateStore, name: str) -> Deployment:
    """Return the recorded deployment named `name`, unless it is gone; raise NotFound otherwise."""
    row = state.get(name)
    if row is None or row.status in {DeploymentStatus.deleted, DeploymentStatus.vanished}:
        raise NotFound(f"no deployment named {name!r}", hint="`cloudrun status` lists them")
    return row


def down(state: StateStore, load_provider: Callable[[str], Provider], name: str) -> Deployment:
    """Return the deployment's final row after removing its endpoint and every resource created with it.

    The same claimed, idempotent path as teardown's: a failed delete raises and stays requested, so the next
    `down`, `teardown` or `watch` finishes it; a deployment another process is deleting raises Conflict.
    """
    row = live_deployment(state, name)
    return deletion.remove(state, load_provider, row, "cloudrun down")


def invoke(
    state: StateStore, load_provider: Callable[[str], Provider], name: str, prompt: str, max_tokens: int = 256
) -> dict[str, Any]:
    """Return the endpoint's reply to one chat message (an OpenAI-style chat completion)."""
    row = live_deployment(state, name)
    provider = load_provider(row.provider)
    ref = fleet.find_ref(provider, row)
    if ref is None:
        raise NotFound(f"{name} has no endpoint in {row.provider} {row.region}", hint="`cloudrun status --refresh`")
    payload = {"messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens}
    return provider.invoke(ref, payload)


def check(names: Sequence[str] = PROVIDERS) -> list[CheckResult]:
    """Return, per provider, whether its SDK is installed and its credentials work, and what to do if not."""
    results = []
    for name in names:
        try:
            results.append(registry.load(name).check())
        except InvalidInput as exc:
            installed = name in registry.REGISTRY
            results.append(CheckResult(provider=name, sdk_installed=not installed, credentials_ok=False,
                                       detail=exc.message, hint=exc.hint))  # fmt: skip
    return results
