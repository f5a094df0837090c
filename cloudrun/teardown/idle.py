"""Which endpoints to tear down, and why: idleness and the budget guard as pure rules (no I/O).

Idle, like Cloud Custodian's metrics filter, has named options and an explicit missing-data rule:
- idle = no invocations within the window AND in service for at least the window (a young endpoint is
  never idle); the window is `--idle` or the deployment's own `--idle-timeout`, whichever is shorter;
- missing data, per provider, is decided by the adapter's `invocations()`: SageMaker publishes
  `Invocations` only for periods with requests, so no datapoints there means 0 calls (the adapter
  returns 0); `None` means the metrics could not be read, and such an endpoint is KEPT and reported:
  nothing is deleted on missing evidence.

The budget guard deletes a billable deployment (creating, in service or failed) when its `--ttl` has
passed, its credit runs out before the next check, its cost would cross its `--max-spend` cap before
the next check, or the month's spend across deployments would cross `--monthly-cap`. A set a deploy left
half-made (the cloud shows e.g. a model and no endpoint) is removed whatever the idle window: it cannot serve.
Deleting is a separate, idempotent action: `cloudrun.teardown`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from cloudrun.models import Deployment, DeploymentStatus, Limits

KEEP, DELETE = "keep", "delete"


def show(duration: timedelta) -> str:
    """Return a duration as a person reads it: '45s', '30m', '2h05m', '3d4h'."""
    seconds = int(duration.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
    return f"{minutes}m" if minutes else f"{secs}s"


@dataclass(frozen=True)
class Candidate:
    """One recorded deployment as the rules see it."""

    name: str
    provider: str
    region: str
    status: DeploymentStatus
    since: datetime  # in service since (else created): age for the idle rule counts from here
    created_at: datetime  # TTL counts from here: the endpoint bills from creation
    price_per_hour_usd: Decimal
    cost_so_far_usd: Decimal
    limits: Limits = field(default_factory=Limits)

    @classmethod
    def of(cls, row: Deployment, limits: Limits | None, now: datetime) -> Candidate:
        return cls(name=row.name, provider=row.provider, region=row.region, status=row.status,
                   since=row.ready_at or row.created_at, created_at=row.created_at,
                   price_per_hour_usd=row.price_per_hour_usd, cost_so_far_usd=row.cost_so_far(now),
                   limits=limits or Limits())  # fmt: skip


@dataclass(frozen=True)
class Decision:
    """Delete or keep one deployment; `rule` names the rule that decided, `reason` says it in words."""

    name: str
    action: str
    rule: str
    reason: str

    @property
    def delete(self) -> bool:
        return self.action == DELETE


@dataclass(frozen=True)
class Policy:
    """The options of one check: the idle window, the time to the next check, the spend caps."""

    idle_for: timedelta | None = None
    interval: timedelta = timedelta(minutes=5)
    max_spend_usd: Decimal | None = None  # per deployment, for those deployed without --max-spend
    monthly_cap_usd: Decimal | None = None  # across all deployments, this calendar month (UTC)


def idle_window(candidate: Candidate, idle_for: timedelta | None) -> timedelta | None:
    """Return the idle window that applies: the shorter of `--idle` and the deployment's --idle-timeout."""
    windows = [w for w in (idle_for, candidate.limits.idle_timeout) if w is not None]
    return min(windows) if windows else None


def needs_invocations(candidate: Candidate, now: datetime, idle_for: timedelta | None) -> timedelta | None:
    """Return the window to count invocations over, or None when the idle rule decides without them."""
    window = idle_window(candidate, idle_for)
    if window is None or candidate.status is not DeploymentStatus.in_service or now - candidate.since < window:
        return None
    return window


def find_idle(
    endpoints: Iterable[Candidate],
    invocations: Mapping[str, int | None],
    now: datetime,
    idle_for: timedelta | None,
) -> list[Decision]:
    """Return a keep/delete decision per endpoint by the idle rule; a name missing from `invocations` is unknown."""
    return [_idle(candidate, invocations, now, idle_for) for candidate in endpoints]


def _idle(candidate: Candidate, invocations: Mapping[str, int | None], now: datetime,
          idle_for: timedelta | None) -> Decision:  # fmt: skip
    name, window = candidate.name, idle_window(candidate, idle_for)
    if window is None:
        return Decision(name, KEEP, "no_idle_rule", "no --idle given and no --idle-timeout set at deploy")
    if candidate.status is not DeploymentStatus.in_service:
        return Decision(name, KEEP, "not_in_service", f"{candidate.status.value}: the idle rule needs it in service")
    age = now - candidate.since
    if age < window:
        return Decision(name, KEEP, "young", f"in service for {show(age)}, less than the {show(window)} idle window")
    count = invocations.get(name)
    if count is None:
        return Decision(name, KEEP, "metrics_unavailable",
                        "invocation metrics could not be read: kept, never deleted on missing evidence")  # fmt: skip
    if count > 0:
        return Decision(
            name, KEEP, "active", f"{count} invocation{'' if count == 1 else 's'} in the last {show(window)}"
        )
    own = candidate.limits.idle_timeout == window
    return Decision(name, DELETE, "idle_timeout" if own else "idle",
                    f"no invocations in the last {show(window)} (in service for {show(age)})")  # fmt: skip


def budget_guard(
    endpoints: Sequence[Candidate],
    now: datetime,
    policy: Policy,
    *,
    month_spent_usd: Decimal = Decimal(0),
    credit_runs_out: Mapping[str, datetime | None] | None = None,
) -> dict[str, Decision]:
    """Return the delete decisions of the budget guard (TTL, credit, per-deployment cap, monthly cap), by name."""
    billable = [c for c in endpoints if c.status.billable]
    hours_to_next = Decimal(int(policy.interval.total_seconds())) / Decimal(3600)
    decisions: dict[str, Decision] = {}
    for candidate in billable:
        decision = _own_limits(candidate, now, policy, hours_to_next, (credit_runs_out or {}).get(candidate.name))
        if decision is not None:
            decisions[candidate.name] = decision
    survivors = [c for c in billable if c.name not in decisions]
    decisions.update(_monthly_cap(survivors, policy, hours_to_next, month_spent_usd))
    return decisions


def _own_limits(candidate: Candidate, now: datetime, policy: Policy, hours_to_next: Decimal,
                runs_out_at: datetime | None) -> Decision | None:  # fmt: skip
    name, ttl = candidate.name, candidate.limits.ttl
    if ttl is not None and now - candidate.created_at >= ttl:
        return Decision(
            name, DELETE, "ttl", f"--ttl {show(ttl)} passed (created {show(now - candidate.created_at)} ago)"
        )
    next_check = now + policy.interval
    if runs_out_at is not None and runs_out_at <= next_check:
        return Decision(name, DELETE, "credit",
                        f"its credit runs out at {runs_out_at:%Y-%m-%d %H:%M} UTC, before the next check")  # fmt: skip
    cap = candidate.limits.max_spend_usd if candidate.limits.max_spend_usd is not None else policy.max_spend_usd
    if cap is not None:
        projected = candidate.cost_so_far_usd + candidate.price_per_hour_usd * hours_to_next
        if projected > cap:
            return Decision(name, DELETE, "max_spend",
                            f"${candidate.cost_so_far_usd:.2f} so far + ${candidate.price_per_hour_usd}/h until the "
                            f"next check = ${projected:.2f}, over its --max-spend ${cap}")  # fmt: skip
    return None


def _monthly_cap(billable: Sequence[Candidate], policy: Policy, hours_to_next: Decimal,
                 month_spent_usd: Decimal) -> dict[str, Decision]:  # fmt: skip
    """Return deletions, most expensive first, until the month's projected spend stays within the cap."""
    cap = policy.monthly_cap_usd
    if cap is None:
        return {}
    projected = month_spent_usd + sum((c.price_per_hour_usd * hours_to_next for c in billable), Decimal(0))
    decisions = {}
    for candidate in sorted(billable, key=lambda c: (-c.price_per_hour_usd, c.name)):
        if projected <= cap:
            break
        reason = f"this month's spend ${month_spent_usd:.2f} + running deployments until the next check = " \
                 f"${projected:.2f}, over the --monthly-cap ${cap}"  # fmt: skip
        decisions[candidate.name] = Decision(candidate.name, DELETE, "monthly_cap", reason)
        projected -= candidate.price_per_hour_usd * hours_to_next
    return decisions


def decide(
    endpoints: Sequence[Candidate],
    invocations: Mapping[str, int | None],
    now: datetime,
    policy: Policy,
    *,
    month_spent_usd: Decimal = Decimal(0),
    credit_runs_out: Mapping[str, datetime | None] | None = None,
    incomplete: Mapping[str, str] | None = None,
) -> list[Decision]:
    """Return one decision per endpoint: the budget guard's deletion if any, else removing a half-made set, else the
    idle rule's verdict.

    `incomplete` names the deployments a deploy left half-made (the cloud says so on this check, e.g. a model and no
    endpoint): nothing there can serve or ever will, so it is removed whatever the idle window.
    """
    guard = budget_guard(endpoints, now, policy, month_spent_usd=month_spent_usd, credit_runs_out=credit_runs_out)
    half_made = {c.name: Decision(c.name, DELETE, "incomplete", f"{(incomplete or {})[c.name]}: nothing can serve")
                 for c in endpoints if c.name in (incomplete or {}) and c.status.billable}  # fmt: skip
    return [
        guard.get(d.name) or half_made.get(d.name, d) for d in find_idle(endpoints, invocations, now, policy.idle_for)
    ]


def month_to_date_usd(rows: Iterable[Deployment], now: datetime) -> Decimal:
    """Return what deployments (removed ones too) cost at list price since the 1st of this month, UTC."""
    start = now.astimezone(timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    total = Decimal(0)
    for row in rows:
        begin, end = max(row.created_at, start), min(row.deleted_at or now, now)
        if end > begin:
            total += row.price_per_hour_usd * Decimal((end - begin).total_seconds()) / Decimal(3600)
    return total
