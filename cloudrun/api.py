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
from cloudrun import limits as limits_store
from cloudrun import provider as registry
from cloudrun.errors import AuthError, Conflict, InvalidInput, NotFound
from cloudrun.limits import Limits
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
from cloudrun.provider import Provider, ProviderLoader
from cloudrun.state import StateStore


def size(
    model: str | None,
    *,
    precision: Precision | str | None = None,
    context: int | None = None,
    concurrency: int = 1,
    config: Path | None = None,
    quantized_model: str | None = None,
) -> MemoryNeed:
    """Return the memory a model needs to serve `context` tokens to `concurrency` requests at once.

    `quantized_model` names a pre-quantized checkpoint of the model (AWQ, GPTQ, FP8, ...) to serve instead: the
    weights are sized from its own quantization config.
    """
    return sizing.need(model, precision=precision, context=context, concurrency=concurrency, config_path=config,
                       quantized_model=quantized_model)  # fmt: skip


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
    quantized_model: str | None = None,
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
    need = size(model, precision=precision, context=context, concurrency=concurrency, config=config,
                quantized_model=quantized_model)  # fmt: skip
    offers = catalog.offers(catalog_path=catalog_file, providers=providers, regions=regions)
    now = now or datetime.now(timezone.utc)
    return scheduler.rank(
        need,
        offers,
        resolve_grants(credits_file, grants, now),
        hours=run_hours,
        now=now,
        spot=spot,
        include_infeasible=include_infeasible,
        catalog_source=str(catalog_file) if catalog_file else "bundled snapshot",
    )


def resolve_grants(
    credits_file: Path | None, grants: Sequence[CreditGrant] | None, now: datetime
) -> Sequence[CreditGrant]:
    """Return the grants to plan with: those given, a credits file's, or the ledger's net of running burn."""
    if grants is not None:
        return grants
    return credits.load_grants(credits_file) if credits_file else ledger.grants_for_planning(now)


# --- Deploying and managing endpoints --------------------------------------------------------------------


@dataclass
class DeployPlan:
    """What `deploy` will do: the deployment name, the ranked placements it will try, and what it skipped.

    `grants` are the credits the plan was priced with (a --credits file's, or the ledger's): a --free-only
    deploy records when they stop paying from these same grants.
    """

    name: str
    plan: Plan
    placements: list[PlanOption]
    skipped: dict[str, str] = field(default_factory=dict)  # provider -> why it is not tried
    grants: Sequence[CreditGrant] = ()
    free_only: bool = False
    max_price_per_hour_usd: Decimal | None = None
    prechecked: list[tuple[PlanOption, str, str]] | None = None  # (option, where, why) skipped before any create

    def spec(self, option: PlanOption) -> DeploySpec:
        return deployer.spec_for(option, self.plan.need, name=self.name)


def provider_loader(options: dict[str, dict[str, Any]] | None = None) -> ProviderLoader:
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
    spot: bool = False,
    free_only: bool = False,
    max_price: float | str | Decimal | None = None,
    credits_file: Path | None = None,
    grants: Sequence[CreditGrant] | None = None,
    now: datetime | None = None,
    **plan_options: Any,
) -> DeployPlan:
    """Return the deploy plan: placements in ranked order, restricted to providers cloudrun can deploy to.

    Without --instance-type this is `--cheapest` within the --provider/--region filters; with it, the
    ranked placements of that instance type (one, when --region is given too). `spot` deploys on spot
    capacity where the service has it (Vertex AI); `free_only` keeps placements credit pays for in full;
    `max_price` (USD/h) keeps placements at most that dear, and lets failover use any of them without asking.
    """
    if cheapest and instance_type:
        raise InvalidInput("--cheapest chooses the instance type itself", hint="drop --instance-type or --cheapest")
    name = naming.validate(name) if name else None
    ceiling = _max_price(max_price)
    now = now or datetime.now(timezone.utc)
    used = resolve_grants(credits_file, grants, now)
    result = plan(model, providers=[provider] if provider else None, regions=[region] if region else None,
                  include_infeasible=bool(instance_type), spot=spot, grants=used, now=now,
                  **plan_options)  # fmt: skip
    options = _of_type(result, instance_type, spot) if instance_type else _on_demand_or_spot(result, spot)
    if spot and not options:
        raise InvalidInput("no spot placement fits this model here: only Vertex AI serves endpoints on spot VMs",
                           hint="drop --spot, or plan with `cloudrun plan --spot --provider gcp`")  # fmt: skip
    skipped = {o.offer.provider: "no deploy adapter yet" for o in options if not registry.known(o.offer.provider)}
    placements = [o for o in options if registry.known(o.offer.provider)]
    if ceiling is not None:
        placements = _at_most(placements, ceiling)
    if free_only:
        placements = ledger.free_placements(placements)
    if not placements:
        why = "; ".join(f"{p}: {reason}" for p, reason in skipped.items()) or "no offer fits this model"
        raise InvalidInput(f"nothing to deploy to ({why})", hint="`cloudrun plan --all` shows why offers were left out")
    return DeployPlan(name or naming.derive(result.need.id), result, placements, skipped, grants=used,
                      free_only=free_only, max_price_per_hour_usd=ceiling)  # fmt: skip


def _on_demand_or_spot(result: Plan, spot: bool) -> list[PlanOption]:
    """Return the ranked options for a deploy: spot ones only with --spot, on-demand ones otherwise."""
    return [o for o in result.options if o.spot == spot]


def _of_type(result: Plan, instance_type: str, spot: bool = False) -> list[PlanOption]:
    matches = [o for o in result.options if o.offer.instance_type == instance_type and o.spot == spot]
    if not matches:
        kind = "a spot offer" if spot else "in the catalog"
        raise InvalidInput(f"{instance_type} is not {kind} for that provider and region",
                           hint="see `cloudrun plan --all` for the instance types cloudrun knows")  # fmt: skip
    feasible = [o for o in matches if o.fit.feasible]
    if not feasible:
        raise InvalidInput(f"{result.need.id} does not fit {instance_type}: {'; '.join(matches[0].reasons)}")
    return feasible


def _max_price(value: float | str | Decimal | None) -> Decimal | None:
    if value is None:
        return None
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        raise InvalidInput(f"--max-price {value!r} is not a number of USD per hour") from None
    if not price.is_finite() or price <= 0:
        raise InvalidInput(f"--max-price must be a positive number of USD per hour, not {value}")
    return price


def _at_most(placements: list[PlanOption], ceiling: Decimal) -> list[PlanOption]:
    kept = [o for o in placements if o.price_per_hour_usd <= ceiling]
    if not kept:
        cheapest = min(o.price_per_hour_usd for o in placements)
        raise InvalidInput(f"--max-price ${ceiling}/h: every placement costs more (the cheapest ${cheapest}/h)",
                           hint="raise --max-price, or widen --provider/--region")  # fmt: skip
    return kept


def dry_run_requests(
    deploy_plan: DeployPlan, load_provider: ProviderLoader
) -> tuple[list[str], list[tuple[str, dict]]]:
    """Return (what a real deploy would skip, and why; the requests it would send first), sending nothing.

    Placements the adapter refuses before anything is created (e.g. Azure without its vLLM wrapper image) are
    skipped as the real deploy skips them; quota is not read (that would be a call).
    """
    skipped: dict[str, str] = {}
    for option in deploy_plan.placements:
        spec = deploy_plan.spec(option)
        where = f"{spec.provider} {spec.region} {spec.instance_type}"
        try:
            provider = load_provider(spec.provider)
        except InvalidInput as exc:
            skipped.setdefault(f"{spec.provider}: {exc}", where)
            continue
        reason = provider.unavailable_reason(spec)
        if reason:
            skipped.setdefault(f"{spec.provider}: {reason}", where)
            continue
        return _skips(skipped), provider.render_requests(spec)
    raise InvalidInput("a real deploy would skip every placement: " + "; ".join(_skips(skipped)),
                       hint="see the reasons; `cloudrun plan --all` lists every offer")  # fmt: skip


def _skips(skipped: dict[str, str]) -> list[str]:
    return [f"{reason} (from {where} on)" for reason, where in skipped.items()]


def precheck(deploy_plan: DeployPlan, load_provider: ProviderLoader) -> list[tuple[str, str]]:
    """Drop the placements a deploy would skip before creating anything; return them, with why.

    Skipped: every placement of a provider whose credentials do not work (`check()`), then each the adapter
    refuses or has no quota for. Run before asking the user, so the price confirmed is the price of the placement
    really tried first; the checks are cached by the adapters, and a plan is checked once. Raises NoPlacementLeft
    (or the one kind of error every placement met, e.g. AuthError) when nothing is left to try.
    """
    if deploy_plan.prechecked is None:
        kept, skipped, refused = [], [], []
        unusable: dict[str, AuthError | None] = {}  # provider -> why its credentials cannot deploy (None: they can)
        for option in deploy_plan.placements:
            spec = deploy_plan.spec(option)
            where = f"{spec.provider} {spec.region} {spec.instance_type}"
            try:
                provider = load_provider(spec.provider)
                if spec.provider not in unusable:
                    unusable[spec.provider] = _credentials_problem(provider.check())
                problem = unusable[spec.provider]
                why = str(problem) if problem else deployer.skip_reason(provider, spec)
            except (AuthError, InvalidInput):
                problem, why = None, None  # the deploy itself reports it, and moves on to the next provider
            if why:
                skipped.append((option, where, why))
                refused.append(deployer.Attempt(where, why, problem))
            else:
                kept.append(option)
        if not kept:  # nothing left to try: say why each was skipped, once per reason, before anything is asked
            raise deployer.nothing_worked(refused)
        deploy_plan.prechecked = skipped
        deploy_plan.placements = kept
    return [(where, why) for _, where, why in deploy_plan.prechecked]


def deploy(
    deploy_plan: DeployPlan,
    state: StateStore,
    load_provider: ProviderLoader,
    *,
    auto_teardown: Limits | None = None,
    progress: Callable[[str], None] | None = None,
    policy: deployer.WaitPolicy | None = None,
    approve: Callable[[PlanOption], bool] | None = None,
) -> deployer.DeployResult:
    """Return the deployment in service on the first placement that works; fail over on quota, capacity, credentials.

    The whole deploy: the name checked once, the auto-teardown limits stored before anything is created (so
    `watch` enforces them even if this process dies), and for a --free-only plan the moment its credit stops
    paying, from the grants the plan was priced with. A placement dearer than the first is tried only if
    `approve(option)` says so, or it is within the plan's --max-price.
    """
    ensure_name_free(state, deploy_plan.name)  # before any cloud call, quota reads included
    precheck(deploy_plan, load_provider)
    if auto_teardown:
        limits_store.set_limits(state, deploy_plan.name, idle_timeout=auto_teardown.idle_timeout,
                                ttl=auto_teardown.ttl, max_spend=auto_teardown.max_spend_usd)  # fmt: skip
    gate = deployer.PriceGate(deploy_plan.placements[0], deploy_plan.max_price_per_hour_usd, approve)
    runner = deployer.Deployer(state, load_provider, policy=policy, progress=progress, price_gate=gate)
    result = runner.run(deploy_plan.placements, deploy_plan.spec)
    chosen = result.option
    before = [(where, why) for option, where, why in deploy_plan.prechecked or () if _ranked_before(option, chosen)]
    result.attempts[:0] = [deployer.Attempt(where, why) for where, why in before]
    if deploy_plan.free_only:
        start = result.deployment.created_at
        runs_out = credits.paid_until(chosen.price_per_hour_usd, deploy_plan.grants, chosen.offer, start)
        ledger.Ledger(state).store_credit_runs_out(result.deployment.name, runs_out, start)
    return result


def _credentials_problem(checked: CheckResult) -> AuthError | None:
    return None if checked.credentials_ok else AuthError(checked.detail, hint=checked.hint)


def _ranked_before(option: PlanOption, chosen: PlanOption | None) -> bool:
    return chosen is None or scheduler.sort_key(option) < scheduler.sort_key(chosen)


def status(
    state: StateStore,
    load_provider: ProviderLoader | None = None,
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


def down(state: StateStore, load_provider: ProviderLoader, name: str) -> Deployment:
    """Return the deployment's final row after removing its endpoint and every resource created with it.

    The same claimed, idempotent path as teardown's: a failed delete raises and stays requested, so the next
    `down`, `teardown` or `watch` finishes it; a deployment another process is deleting raises Conflict.
    """
    row = live_deployment(state, name)
    return deletion.remove(state, load_provider, row, "cloudrun down")


def invoke(
    state: StateStore, load_provider: ProviderLoader, name: str, prompt: str, max_tokens: int = 256
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
            installed = registry.known(name)
            results.append(CheckResult(provider=name, sdk_installed=not installed, credentials_ok=False,
                                       detail=exc.message, hint=exc.hint))  # fmt: skip
    return results
