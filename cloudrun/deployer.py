"""Deploy orchestration: walk the ranked placements, create, wait until in service, fail over.

For each placement: write the intent row, create, wait with backoff until in service, record. A quota or
capacity error, or the provider refusing that placement, moves on to the next placement; missing or refused
credentials move on to the next provider; a placement dearer than the one confirmed needs a new yes
(PriceGate). Any other error rolls the deployment back (the one delete path, cloudrun.teardown.deletion) and stops.
Ctrl-C while waiting leaves the deployment recorded so `cloudrun down NAME` can remove it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal

from cloudrun import serving
from cloudrun.errors import AuthError, CapacityUnavailable, CloudrunError, Conflict, InvalidInput, QuotaExceeded
from cloudrun.models import Deployment, DeploySpec, Endpoint, EndpointRef, EndpointState, MemoryNeed, PlanOption
from cloudrun.provider import Provider, ProviderLoader
from cloudrun.state import StateStore
from cloudrun.teardown import deletion

Progress = Callable[[str], None]


@dataclass
class WaitPolicy:
    """How to poll an endpoint until it is in service: backoff from `first_s` up to `max_s`, until `deadline_s`."""

    first_s: float = 10.0
    max_s: float = 60.0
    factor: float = 1.5
    deadline_s: float = 2 * 3600.0  # a 67B download and load can take most of an hour
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


@dataclass
class Attempt:
    placement: str
    outcome: str
    error: CloudrunError | None = None


@dataclass
class DeployResult:
    deployment: Deployment
    attempts: list[Attempt] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    option: PlanOption | None = None  # the placement it runs on


class DeployInterrupted(CloudrunError):
    """Ctrl-C while waiting: the deployment is recorded and still exists in the cloud."""

    exit_code = 130


class NoPlacementLeft(CloudrunError):
    """Every placement failed on quota, capacity or credentials."""

    exit_code = 6


@dataclass(frozen=True)
class DeployTarget:
    """One ranked placement and the spec that deploys the model there (built once, when the deploy is planned)."""

    option: PlanOption
    spec: DeploySpec

    @property
    def where(self) -> str:
        return f"{self.spec.provider} {self.spec.region} {self.spec.instance_type}"

    @property
    def label(self) -> str:
        return self.where + (" spot" if self.spec.spot else "")


def spec_for(option: PlanOption, need: MemoryNeed, *, name: str) -> DeploySpec:
    """Return the deploy spec for one ranked placement: where, and how its image serves the model (cloudrun.serving)."""
    offer, how = option.offer, option.fit.serving
    return DeploySpec(
        name=name,
        model_id=need.id,
        provider=offer.provider,
        service=offer.service,
        region=offer.region,
        instance_type=offer.instance_type,
        gpu_count=offer.gpu_count,
        tensor_parallel=option.fit.tensor_parallel,
        context=need.context,
        precision=need.precision,
        spot=option.spot,
        dtype=how.dtype if how else "bf16",
        quantization=how.quantization if how else None,
        checkpoint=how.checkpoint if how else need.loaded_checkpoint,
        startup_estimate_s=round(serving.startup_estimate_s(need, offer.gpu_count, "pessimistic")),
    )


def skip_reason(provider: Provider, spec: DeploySpec) -> str | None:
    """Return why this placement should be skipped before anything is created (adapter refusal, no quota), or None."""
    unavailable = provider.unavailable_reason(spec)
    if unavailable:
        return unavailable
    quota = provider.quota(spec.instance_type, spec.region, spot=spec.spot)
    if quota is not None and quota < spec.instance_count:
        return f"quota for {spec.instance_type} endpoints in {spec.region} is {quota}: request an increase to use it"
    return None


def wait_in_service(provider: Provider, ref: EndpointRef, policy: WaitPolicy, progress: Progress) -> Endpoint:
    """Return the endpoint once in service; raise the provider's error if it fails or the deadline passes."""
    start = policy.clock()
    delay = policy.first_s
    while True:
        endpoint = provider.describe(ref)
        elapsed = policy.clock() - start
        progress(f"{ref.name}: {endpoint.state.value} ({elapsed:.0f} s)")
        if endpoint.state is EndpointState.in_service:
            return endpoint
        if endpoint.state is EndpointState.failed:
            raise provider.failure_error(endpoint)
        if elapsed + delay > policy.deadline_s:
            raise CloudrunError(
                f"{ref.name} is still {endpoint.state.value} after {elapsed:.0f} s",
                hint=f"it may still come up (`cloudrun status --refresh`); remove it with `cloudrun down {ref.name}`",
            )
        policy.sleep(delay)
        delay = min(delay * policy.factor, policy.max_s)


class PriceGate:
    """Whether a placement may be tried at its price: the first one was confirmed; a dearer one needs a new yes.

    Dearer means a higher $/h or a higher out-of-pocket cost for the planned hours than any placement approved so
    far. Within `max_price` (USD/h, the user's --max-price) it is approved without asking; otherwise `approve`
    decides (the CLI asks, or --yes says yes); with neither, it is not tried.
    """

    def __init__(self, confirmed: PlanOption, max_price: Decimal | None = None,
                 approve: Callable[[PlanOption], bool] | None = None) -> None:  # fmt: skip
        self.price, self.out_of_pocket = confirmed.price_per_hour_usd, confirmed.out_of_pocket_usd
        self.max_price, self.approve = max_price, approve

    def refuses(self, option: PlanOption) -> str | None:
        """Return why `option` may not be tried (a price nobody agreed to), or None once it is approved."""
        if option.price_per_hour_usd <= self.price and option.out_of_pocket_usd <= self.out_of_pocket:
            return None
        if self.max_price is not None and option.price_per_hour_usd <= self.max_price:
            return None
        if self.approve is not None and self.approve(option):
            self.price = max(self.price, option.price_per_hour_usd)
            self.out_of_pocket = max(self.out_of_pocket, option.out_of_pocket_usd)
            return None
        return (f"not tried: dearer than the ${self.price}/h (${self.out_of_pocket:,.2f} after credits) you confirmed; "
                f"pass --yes or --max-price to allow it")  # fmt: skip


class Deployer:
    """Runs one deployment through its placements, recording every step in the state store."""

    def __init__(
        self,
        state: StateStore,
        load_provider: ProviderLoader,
        policy: WaitPolicy | None = None,
        progress: Progress | None = None,
        price_gate: PriceGate | None = None,
        owner: str | None = None,
    ) -> None:
        self.state = state
        self.owner = owner  # recorded on the row (None: the OS user)
        self.load_provider = load_provider
        self.policy = policy or WaitPolicy()
        self.progress = progress or (lambda _message: None)
        self.price_gate = price_gate

    def run(self, targets: Sequence[DeployTarget]) -> DeployResult:
        """Return the deployment in service on the first placement that works, in plan order.

        Quota, capacity and a provider's own refusal of one placement move on to the next placement; missing or
        refused credentials (AuthError) move on to the next provider. Anything else rolls back and stops.
        """
        attempts: list[Attempt] = []
        notices: list[str] = []
        unusable: dict[str, CloudrunError] = {}  # provider -> why it cannot be used (credentials, no adapter, SDK)
        for target in targets:
            option, spec, label = target.option, target.spec, target.label
            if spec.provider in unusable:
                attempts.append(Attempt(label, str(unusable[spec.provider]), unusable[spec.provider]))
                continue
            refused = self.price_gate.refuses(option) if self.price_gate else None
            if refused:
                attempts.append(Attempt(label, refused))
                continue
            provider: Provider | None = None
            try:
                provider = self.load_provider(spec.provider)
                skip = skip_reason(provider, spec)
                if skip:
                    self.progress(f"{label}: {skip}")
                    attempts.append(Attempt(label, skip))
                    continue
                deployment = self._attempt(provider, spec, option)
            except (QuotaExceeded, CapacityUnavailable, InvalidInput) as exc:
                attempts.append(Attempt(label, str(exc), exc))
                self.progress(f"{label}: {exc}; trying the next placement")
                continue
            except AuthError as exc:
                unusable[spec.provider] = exc
                attempts.append(Attempt(label, str(exc), exc))
                self.progress(f"{spec.provider}: {exc}; trying the next provider")
                continue
            finally:
                notices.extend(n for n in getattr(provider, "notices", []) if n not in notices)
            attempts.append(Attempt(label, "in service"))
            return DeployResult(deployment, attempts, notices, option)
        raise nothing_worked(attempts)

    def _attempt(self, provider: Provider, spec: DeploySpec, option: PlanOption) -> Deployment:
        self.state.record_intent(
            spec,
            price_per_hour_usd=option.price_per_hour_usd,
            price_source=f"{option.offer.source} ({option.offer.as_of})",
            owner=self.owner,
        )
        try:
            ref = provider.create(spec)
        except CloudrunError as exc:
            # The adapter rolled back whatever it had created. Anything else (Ctrl-C, a bug) keeps the intent
            # row: it is the only marker that something may exist in the cloud.
            self.state.forget_intent(spec.name, reason=str(exc))
            raise
        self.state.mark_creating(spec.name, ref)
        try:
            wait_in_service(provider, ref, self.policy, self.progress)
        except KeyboardInterrupt:
            raise DeployInterrupted(
                f"stopped waiting; {spec.name} is recorded and may still be starting (and billing)",
                hint=f"remove it with `cloudrun down {spec.name}`, or check it with `cloudrun status --refresh`",
            ) from None
        except CloudrunError as exc:
            row = self.state.get(spec.name)
            if row is not None and row.status.gone:  # another cloudrun removed it meanwhile: nothing to roll back
                raise Conflict(f"{spec.name} was removed by another cloudrun command ({row.status.value}) while it "
                               "was starting", hint="`cloudrun status --all` shows its history") from exc  # fmt: skip
            problem = self._roll_back(spec.name, str(exc))
            if problem:
                exc.hint = f"{exc.hint}; {problem}" if exc.hint else problem
            raise
        self.state.mark_ready(spec.name, datetime.now(timezone.utc))
        return self.state.get(spec.name)

    def _roll_back(self, name: str, reason: str) -> str | None:
        """Remove a deployment that failed to come up, the way every delete goes; return why not, if it failed."""
        row = self.state.mark_failed(name, reason)
        try:
            deletion.remove(self.state, self.load_provider, row, "rolling back a failed deploy")
        except CloudrunError as exc:
            return (f"removing it failed too ({exc.message}): it stays recorded, and `cloudrun down {name}` or the "
                    f"next teardown/watch removes it")  # fmt: skip
        return None


def nothing_worked(attempts: Sequence[Attempt]) -> CloudrunError:
    """Return the error for a deploy that found no placement: every outcome once, with the placements it met.

    When any placement was refused as invalid input (a flag, a file, or the environment: a sandbox endpoint that is not
    on this machine), InvalidInput is raised (exit 2): that is what to fix first, and no retry later would help. When
    every placement failed for credentials, AuthError (3); otherwise NoPlacementLeft (6).
    """
    grouped: dict[str, list[str]] = {}
    for attempt in attempts:
        grouped.setdefault(attempt.outcome, []).append(attempt.placement)
    parts = []
    for outcome, where in grouped.items():
        shown = where[0] if len(where) == 1 else f"{where[0]} and {len(where) - 1} more"
        parts.append(f"{shown}: {outcome}")
    message = "no placement could be deployed. Tried: " + ("; ".join(parts) or "no placement")
    hint = "request quota, add credentials, or widen --provider/--region"
    kinds = {type(a.error) for a in attempts}
    if InvalidInput in kinds:
        error: CloudrunError = InvalidInput(message, hint=hint)
    elif kinds == {AuthError}:
        error = AuthError(message, hint=hint)
    else:
        error = NoPlacementLeft(message, hint=hint)
    errors = [a.error for a in attempts if a.error is not None]
    error.__cause__ = errors[-1] if errors else None  # --debug shows the last failure's own causes
    return error
