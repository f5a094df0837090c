"""The library façade: what the CLI, and users' own scripts, call.

Each function takes plain values, raises `cloudrun.errors` exceptions, and never prints or exits. A script gets
what the CLI gets: `plan(...)`; `prepare_deploy(...)` then `deploy(...)` (free-only, limits, run-out, failover
and the price gate included); `status`, `invoke`, `down`, `check`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from cloudrun import credits as credit_rules
from cloudrun import deployer, inputs, scheduler, warmup
from cloudrun import provider as registry
from cloudrun.credits import presets
from cloudrun.credits import sync as credit_sync
from cloudrun.credits.ledger import Balance, Ledger, LedgerGrant
from cloudrun.credits.sync import SyncResult
from cloudrun.deploy_plan import DeployPlan as DeployPlan
from cloudrun.deploy_plan import dry_run_requests as dry_run_requests
from cloudrun.deploy_plan import precheck as precheck
from cloudrun.deploy_plan import prepare as prepare_deploy
from cloudrun.deployer import DeployTarget
from cloudrun.errors import CloudrunError, Conflict, InvalidInput, NotFound
from cloudrun.models import PROVIDERS, CheckResult, Deployment, Limits, PlanOption
from cloudrun.planning import plan as plan
from cloudrun.planning import plan_per_token as plan_per_token
from cloudrun.planning import resolve_grants as resolve_grants
from cloudrun.planning import size as size
from cloudrun.provider import Provider, ProviderLoader
from cloudrun.state import StateStore
from cloudrun.state import limits as limits_store
from cloudrun.state.store import whoami
from cloudrun.teardown import deletion, fleet, sweep
from cloudrun.teardown.idle import Policy

__all__ = ["DeployPlan", "add_credit", "check", "credit_from_flags", "credits", "deploy", "down", "down_all",
           "dry_run_requests", "invoke", "live_deployment", "plan", "precheck", "prepare_deploy", "provider_loader",
           "remove_credit", "resolve_grants", "size", "status", "sync_credits", "teardown", "warm_up",
           "watch_policy"]  # fmt: skip

Confirm = Callable[[DeployPlan, list[tuple[str, str]]], None]
"""(plan, skipped placements as (where, why)) -> None: shows the plan and raises (or exits) unless the user agrees."""


def provider_loader(options: dict[str, dict[str, Any]] | None = None) -> ProviderLoader:
    """Return a function that loads each provider adapter once, with its options (e.g. aws role_arn).

    The account ids among the options (role_arn, project, subscription_id, resource_group, workspace) are checked
    here, before any adapter is made or called: a malformed one is InvalidInput, not a cloud SDK's refusal.
    """
    inputs.account_options(options)
    loaded: dict[str, Provider] = {}

    def load(name: str) -> Provider:
        if name not in loaded:
            loaded[name] = registry.load(name, **(options or {}).get(name, {}))
        return loaded[name]

    return load


def deploy(
    deploy_plan: DeployPlan,
    state: StateStore,
    load_provider: ProviderLoader,
    *,
    auto_teardown: Limits | None = None,
    progress: Callable[[str], None] | None = None,
    policy: deployer.WaitPolicy | None = None,
    approve: Callable[[PlanOption], bool] | None = None,
    confirm: Confirm | None = None,
) -> deployer.DeployResult:
    """Return the deployment in service on the first placement that works; fail over on quota, capacity, credentials.

    The whole deploy, in order: the name checked free (once, before any cloud call); placements without usable
    credentials or quota dropped (precheck); `confirm(plan, skipped)` asked, so the price agreed to is the price of
    the placement really tried first; the auto-teardown limits (the plan's, or `auto_teardown`) stored before
    anything is created, so `watch` enforces them even if this process dies; then create and wait, failing over.
    A placement dearer than the first is tried only if `approve(option)` says so, or it is within the plan's
    --max-price. A --free-only plan records when its credit stops paying, from the grants it was priced with.
    """
    ensure_name_free(state, deploy_plan.name)
    skipped = precheck(deploy_plan, load_provider)
    if confirm is not None:
        confirm(deploy_plan, skipped)
    limits = deploy_plan.auto_teardown if auto_teardown is None else auto_teardown
    if limits:
        limits_store.set_limits(state, deploy_plan.name, idle_timeout=limits.idle_timeout, ttl=limits.ttl,
                                max_spend=limits.max_spend_usd)  # fmt: skip
    first = deploy_plan.targets[0].option
    gate = deployer.PriceGate(first, deploy_plan.max_price_per_hour_usd, approve)
    runner = deployer.Deployer(state, load_provider, policy=policy, progress=progress, price_gate=gate,
                               owner=deploy_plan.owner)  # fmt: skip
    try:
        result = runner.run(deploy_plan.targets)  # Ctrl-C propagates: its row is what `status --refresh` finds
    except CloudrunError as exc:  # nothing runs: its limits go, the events say why
        if limits:
            limits_store.drop(state, deploy_plan.name, f"the deploy failed ({exc.message})")
        raise
    result.attempts[:0] = [deployer.Attempt(t.where, why) for t, why in deploy_plan.prechecked or ()
                           if _ranked_before(t, result.option)]  # fmt: skip
    if deploy_plan.free_only and result.option is not None:
        chosen, start = result.option, result.deployment.created_at
        runs_out = credit_rules.paid_until(chosen.price_per_hour_usd, deploy_plan.grants, chosen.offer, start)
        Ledger(state).store_credit_runs_out(result.deployment.name, runs_out, start)
    return result


def _ranked_before(target: DeployTarget, chosen: PlanOption | None) -> bool:
    return chosen is None or scheduler.sort_key(target.option) < scheduler.sort_key(chosen)


def status(
    state: StateStore,
    load_provider: ProviderLoader | None = None,
    *,
    refresh: bool = False,
    include_deleted: bool = False,
    all_users: bool = True,
) -> tuple[list[Deployment], fleet.ReconcileReport | None]:
    """Return recorded deployments, first reconciled with the clouds when `refresh` is set.

    Without `all_users`, only this OS user's and those nobody owns (adopted orphans, rows older than owners): on a
    team's database the others' are theirs to look after, and `status --all-users` shows them.
    """
    report = None
    if refresh:
        load = load_provider or provider_loader()
        regions, skipped = fleet.scan_regions(state, load)
        report = fleet.reconcile(state, load, regions)
        report.skipped.extend(skipped)
    rows = state.list(include_deleted=include_deleted)
    if not all_users:
        me = whoami()
        rows = [d for d in rows if d.owner in (None, me)]
    return rows, report


def ensure_name_free(state: StateStore, name: str) -> None:
    """Raise Conflict if a live deployment already has this name (a removed one's name may be reused)."""
    existing = state.get(name)
    if existing is not None and existing.status.live:
        raise Conflict(f"a deployment named {name!r} already exists ({existing.status.value})",
                       hint=f"choose another --name, or remove it with `cloudrun down {name}`")  # fmt: skip


def live_deployment(state: StateStore, name: str) -> Deployment:
    """Return the recorded deployment named `name`, unless it is gone; raise NotFound otherwise."""
    row = state.get(name)
    if row is None or row.status.gone:
        raise NotFound(f"no deployment named {name!r}", hint="`cloudrun status` lists them")
    return row


def down(state: StateStore, load_provider: ProviderLoader, name: str) -> deletion.Removed:
    """Return the deployment's final row and what was removed in the cloud (and what was found already gone).

    Every resource carrying its tags goes, a half-made set of a deploy cut short too.

    The same claimed, idempotent path as teardown's: a failed delete raises and stays requested, so the next
    `down`, `teardown` or `watch` finishes it; a deployment another process is deleting raises Conflict.
    """
    row = live_deployment(state, name)
    return deletion.remove(state, load_provider, row, "cloudrun down")


def invoke(
    state: StateStore, load_provider: ProviderLoader, name: str, prompt: str, max_tokens: int = 256
) -> dict[str, Any]:
    """Return the endpoint's reply to one chat message (an OpenAI-style chat completion)."""
    inputs.count(max_tokens, "--max-tokens", 1, inputs.bounds.MAX_REPLY_TOKENS, "tokens")
    row = live_deployment(state, name)
    provider = load_provider(row.provider)
    ref = fleet.find_ref(provider, row)
    if ref is None:
        raise NotFound(f"{name} has no endpoint in {row.provider} {row.region}", hint="`cloudrun status --refresh`")
    payload = {"messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens}
    return provider.invoke(ref, payload)


def warm_up(state: StateStore, load_provider: ProviderLoader, name: str,
            payloads: list[dict[str, Any]]) -> warmup.WarmupReport:  # fmt: skip
    """Return what warming the deployment up took: each payload sent in turn (cloudrun.warmup)."""
    row = live_deployment(state, name)
    provider = load_provider(row.provider)
    ref = fleet.find_ref(provider, row)
    if ref is None:
        raise NotFound(f"{name} has no endpoint in {row.provider} {row.region}", hint="`cloudrun status --refresh`")
    return warmup.run(lambda payload: provider.invoke(ref, payload), payloads)


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


# --- Stopping the meter ----------------------------------------------------------------------------------


def watch_policy(
    idle: str | None = None,
    interval: str = "5m",
    max_spend: str | Decimal | None = None,
    monthly_cap: str | Decimal | None = None,
) -> Policy:
    """Return the teardown policy of `teardown --idle` / `watch`'s flags (text like 30m, 5m, 50), checked."""
    return Policy(idle_for=inputs.duration(idle, "--idle"),
                  interval=inputs.duration(interval, "--interval") or Policy().interval,
                  max_spend_usd=inputs.usd(max_spend, "--max-spend"),
                  monthly_cap_usd=inputs.usd(monthly_cap, "--monthly-cap"))  # fmt: skip


def teardown(
    state: StateStore,
    load_provider: ProviderLoader,
    policy: Policy,
    *,
    providers: Sequence[str] | None = None,
    dry_run: bool = False,
    max_workers: int = sweep.DEFAULT_WORKERS,
) -> sweep.TeardownReport:
    """Return what one check removed, kept (and why) or failed: idle endpoints, each deployment's limits, the caps.

    Deletes through the same claimed path as `down`; an endpoint whose use cannot be read is kept. An unknown provider
    is refused (InvalidInput) before anything is read.
    """
    chosen = inputs.providers(providers)
    return sweep.check(state, load_provider, policy, providers=chosen, dry_run=dry_run, max_workers=max_workers)


def down_all(
    state: StateStore,
    load_provider: ProviderLoader,
    *,
    providers: Sequence[str] | None = None,
    dry_run: bool = False,
    max_workers: int = sweep.DEFAULT_WORKERS,
) -> sweep.TeardownReport:
    """Return the report of removing every deployment (orphans in the clouds too), concurrently: the panic button.

    An unknown provider is refused (InvalidInput) before anything is removed: a typo must not remove nothing quietly.
    """
    chosen = inputs.providers(providers)
    return sweep.down_all(state, load_provider, providers=chosen, dry_run=dry_run, max_workers=max_workers)


# --- Credits ----------------------------------------------------------------------------------------------


def credits(state: StateStore, now: datetime | None = None) -> list[Balance]:
    """Return every credit's balance, burn and runway at `now`."""
    return Ledger(state).balances(now or datetime.now(timezone.utc))


def credit_from_flags(*, now: datetime | None = None, **flags: Any) -> LedgerGrant:
    """Return the credit `credits add`'s flags describe (presets.grant_from_flags), every value checked; none saved."""
    return presets.grant_from_flags(now=now or datetime.now(timezone.utc), **flags)


def add_credit(
    state: StateStore, *, now: datetime | None = None, grant: LedgerGrant | None = None, **flags: Any
) -> LedgerGrant:
    """Return the credit saved: `grant` (from credit_from_flags), else the one `credits add`'s flags describe;
    Conflict on a taken name."""
    return Ledger(state).add(grant or credit_from_flags(now=now, **flags))


def remove_credit(
    state: StateStore, name_or_id: str, confirm: Callable[[LedgerGrant], None] | None = None
) -> LedgerGrant:
    """Return the credit removed (with its observations) once `confirm(grant)` returned; NotFound if there is none."""
    ledger = Ledger(state)
    grant = ledger.find(name_or_id)
    if confirm is not None:
        confirm(grant)
    return ledger.remove(grant.id)


def sync_credits(
    state: StateStore,
    *,
    providers: Sequence[str] | None = None,
    cost_explorer: bool = False,
    billing_profile: str | None = None,
    now: datetime | None = None,
) -> tuple[list[SyncResult], list[Balance]]:
    """Return what each cloud's live balance said, and the balances after it (a failed read is stale: the ledger's
    value is kept)."""
    chosen = list(inputs.providers(providers) or PROVIDERS)
    now = now or datetime.now(timezone.utc)
    book = Ledger(state)
    results = credit_sync.sync(book, now, providers=chosen, cost_explorer=cost_explorer,
                               azure_billing_profile=billing_profile)  # fmt: skip
    return results, book.balances(now)
