"""What `deploy` will do before it does anything: the ranked placements it will try (each with its spec, built
once), what it skips and why, the limits it will store; and the checks that drop unusable placements before the
user is asked (precheck) or show the requests a deploy would send (dry run). No cloud resource is created here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from cloudrun import deployer, inputs, naming, planning
from cloudrun import provider as registry
from cloudrun.credits import ledger
from cloudrun.deployer import DeployTarget
from cloudrun.errors import AuthError, InvalidInput
from cloudrun.models import CheckResult, CreditGrant, DeploySpec, Limits, Plan, PlanOption
from cloudrun.provider import ProviderLoader


@dataclass
class DeployPlan:
    """What `deploy` will do: the deployment name, the ranked placements it will try, and what it skipped.

    `grants` are the credits the plan was priced with (a --credits file's, or the ledger's): a --free-only
    deploy records when they stop paying from these same grants.
    """

    name: str
    plan: Plan
    targets: list[DeployTarget]  # the ranked placements to try, each with its spec (built once, here)
    skipped: dict[str, str] = field(default_factory=dict)  # provider -> why it is not tried
    grants: Sequence[CreditGrant] = ()
    free_only: bool = False
    max_price_per_hour_usd: Decimal | None = None
    auto_teardown: Limits = field(default_factory=Limits)  # what `watch` enforces once it runs
    prechecked: list[tuple[DeployTarget, str]] | None = None  # (target, why) skipped before any create
    owner: str | None = None  # who it is deployed for (deploy --owner); None: the OS user

    @property
    def placements(self) -> list[PlanOption]:
        return [target.option for target in self.targets]

    def spec(self, option: PlanOption) -> DeploySpec:
        """Return the spec of one of this plan's placements."""
        return next(target.spec for target in self.targets if target.option is option)


def prepare(
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
    exclude: Sequence[str] | None = None,
    idle_timeout: str | timedelta | None = None,
    ttl: str | timedelta | None = None,
    max_spend: str | float | Decimal | None = None,
    owner: str | None = None,
    now: datetime | None = None,
    **plan_options: Any,
) -> DeployPlan:
    """Return the deploy plan: placements in ranked order, restricted to providers cloudrun can deploy to.

    Without --instance-type this is `--cheapest` within the --provider/--region filters; with it, the
    ranked placements of that instance type (one, when --region is given too). `spot` deploys on spot
    capacity where the service has it (Vertex AI); `free_only` keeps placements credit pays for in full;
    `max_price` (USD/h) keeps placements at most that dear, and lets failover use any of them without asking.
    `idle_timeout`, `ttl` and `max_spend` (e.g. "30m", "8h", "20") are stored by `deploy` for `watch` to enforce.
    `owner` is who the deployment is recorded for (default: the OS user), shown to a team sharing the state.
    Every argument is checked here, before anything is asked or created.
    """
    if cheapest and instance_type:
        raise InvalidInput("--cheapest chooses the instance type itself", hint="drop --instance-type or --cheapest")
    if instance_type is not None and not instance_type.strip():
        raise InvalidInput("--instance-type is empty", hint="name one, e.g. ml.g5.12xlarge, or leave the flag out")
    name = None if name is None else naming.validate(name)  # --name "" is refused, not replaced by a derived one
    ceiling = inputs.optional_positive(max_price, "--max-price", "USD per hour")
    auto_teardown = inputs.limits(idle_timeout, ttl, max_spend)
    owner = None if owner is None else inputs.label(owner, "--owner")
    now = now or datetime.now(timezone.utc)
    used = planning.resolve_grants(credits_file, grants, now)
    result = planning.plan(model, providers=None if provider is None else [provider],
                           regions=None if region is None else [region],
                           exclude=exclude, include_infeasible=bool(instance_type), spot=spot, grants=used, now=now,
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
    name = name or naming.derive(result.need.id)
    targets = [DeployTarget(o, deployer.spec_for(o, result.need, name=name)) for o in placements]
    return DeployPlan(name, result, targets, skipped, grants=used, free_only=free_only,
                      max_price_per_hour_usd=ceiling, auto_teardown=auto_teardown, owner=owner)  # fmt: skip


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
    for target in deploy_plan.targets:
        spec, where = target.spec, target.where
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
        for target in deploy_plan.targets:
            spec, where = target.spec, target.where
            try:
                provider = load_provider(spec.provider)
                if spec.provider not in unusable:
                    unusable[spec.provider] = _credentials_problem(provider.check())
                problem = unusable[spec.provider]
                why = str(problem) if problem else deployer.skip_reason(provider, spec)
            except (AuthError, InvalidInput):
                problem, why = None, None  # the deploy itself reports it, and moves on to the next provider
            if why:
                skipped.append((target, why))
                refused.append(deployer.Attempt(where, why, problem))
            else:
                kept.append(target)
        if not kept:  # nothing left to try: say why each was skipped, once per reason, before anything is asked
            raise deployer.nothing_worked(refused)
        deploy_plan.prechecked = skipped
        deploy_plan.targets = kept
    return [(target.where, why) for target, why in deploy_plan.prechecked]



def _credentials_problem(checked: CheckResult) -> AuthError | None:
    return None if checked.credentials_ok else AuthError(checked.detail, hint=checked.hint)
