"""Tearing endpoints down: one check (`teardown --idle`, `watch`), the watch loop, the panic button.

A check reconciles state with every provider's tagged endpoints first (the cloud is the source of
truth: orphans are adopted, then judged like the rest), reads invocation counts only where the idle
rule needs them, lets `reaper.decide` choose, and deletes concurrently (`cloudrun.teardown.deletion`). Adapters refuse
to delete anything without cloudrun's tag, and only tagged endpoints ever reach the state store.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone

from cloudrun.credits.ledger import Ledger
from cloudrun.errors import CloudrunError, Conflict
from cloudrun.models import Deployment, DeploymentStatus
from cloudrun.provider import ProviderLoader
from cloudrun.state import StateStore, limits
from cloudrun.state import decisions as reaper_store
from cloudrun.state import deletions as claims
from cloudrun.teardown import fleet
from cloudrun.teardown import idle as reaper
from cloudrun.teardown.deletion import DEFAULT_WORKERS, Outcome, TeardownReport, delete_concurrently, outcome
from cloudrun.teardown.idle import Candidate, Policy

log = logging.getLogger("cloudrun.teardown")
CreditRunsOutAt = Callable[[str], "datetime | None"]
"""deployment name -> when its credit runs out (None: not a --free-only deployment, or unknown)."""
__all__ = ["DEFAULT_WORKERS", "Outcome", "TeardownReport", "check", "delete_concurrently", "down_all", "watch"]


def ledger_credit_runs_out_at(state: StateStore) -> CreditRunsOutAt:
    """Return when each --free-only deployment's credit runs out, as `deploy` recorded it in this store's ledger."""
    return Ledger(state).credit_runs_out_at


def check(
    state: StateStore,
    load_provider: ProviderLoader,
    policy: Policy,
    *,
    providers: Sequence[str] | None = None,
    regions: dict[str, list[str]] | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
    max_workers: int = DEFAULT_WORKERS,
    credit_runs_out_at: CreditRunsOutAt | None = None,
) -> TeardownReport:
    """Return what one check did: reconcile, decide (idle rule + budget guard), delete what must go."""
    now = now or datetime.now(timezone.utc)
    report = TeardownReport(dry_run=dry_run)
    rows, incomplete = _reconciled_rows(state, load_provider, providers, regions, now, report)
    unfinished = _unfinished(state, rows, now)  # deletions asked before and not done: retried whatever the rules say
    stored = limits.all_limits(state)
    candidates = [Candidate.of(row, stored.get(row.name), now) for row in rows
                  if row.status.billable and row.name not in unfinished]  # fmt: skip
    for row in rows:
        if not row.status.billable and row.name not in unfinished:
            report.kept.append(outcome(row, _why_not_billable(row, state, now)))
    counts = _invocations(candidates, rows, load_provider, now, policy)
    month = reaper.month_to_date_usd(state.list(include_deleted=True), now)
    credit = _credit(candidates, credit_runs_out_at or ledger_credit_runs_out_at(state), report)
    decisions = reaper.decide(candidates, counts, now, policy, month_spent_usd=month, credit_runs_out=credit,
                              incomplete=incomplete)  # fmt: skip
    by_name = {row.name: row for row in rows}
    for decision in decisions:
        log.info("%s %s [%s]: %s", decision.action, decision.name, decision.rule, decision.reason)
        if not dry_run:
            reaper_store.log_decision(state, decision, now)
        if not decision.delete:
            report.kept.append(outcome(by_name[decision.name], decision.reason))
    doomed = [(by_name[name], reason) for name, reason in unfinished.items()]
    doomed += [(by_name[d.name], d.reason) for d in decisions if d.delete]
    if dry_run:
        report.deleted += [outcome(row, f"would delete: {reason}") for row, reason in doomed]
    else:
        delete_concurrently(state, load_provider, doomed, report, max_workers=max_workers)
    return report


def _unfinished(state: StateStore, rows: Sequence[Deployment], now: datetime) -> dict[str, str]:
    """Return {name: reason} of the rows whose deletion was asked and not finished (failed, or its process died)."""
    requests = claims.pending(state)
    found = {}
    for row in rows:
        request = requests.get(row.name)
        if row.status is DeploymentStatus.deleting and (request is None or request.stale(now)):
            asked = request.reason if request else "a deletion"
            found[row.name] = f"finishing {asked!r}, which stopped part-way"
        elif request is not None and row.status.billable:
            found[row.name] = f"retrying {request.reason!r}, which failed: {request.last_error or 'unknown error'}"
    return found


def _why_not_billable(row: Deployment, state: StateStore, now: datetime) -> str:
    if row.status is DeploymentStatus.deleting:
        request = claims.pending(state).get(row.name)
        holder = f" by {request.owner}" if request and request.owner else ""
        return f"deleting: a deletion is under way{holder}"
    return f"{row.status.value}: not billable yet"


def _reconciled_rows(
    state: StateStore,
    load_provider: ProviderLoader,
    providers: Sequence[str] | None,
    regions: dict[str, list[str]] | None,
    now: datetime,
    report: TeardownReport,
) -> tuple[list[Deployment], dict[str, str]]:
    """Return the live rows of the chosen providers after adopting orphans and marking vanished endpoints, and the
    names of those the clouds show half-made (with what is left).

    Each provider is reconciled on its own, so one that cannot be listed (or whose adapter breaks) does
    not stop the others. Failing to list a provider cloudrun has no live record on (e.g. never set up)
    is a note, not a problem; with live records there it is a problem (their state is unknown). A dry run
    writes nothing: the orphans it would adopt are judged from the rows adopting them would write.
    """
    if regions is not None:
        scan = regions
    else:
        scan, skipped = fleet.scan_regions(state, load_provider, providers)
        report.skipped += skipped
    if providers:
        scan = {name: found for name, found in scan.items() if name in providers}
    recorded = {row.provider for row in state.list()}
    previews: dict[str, Deployment] = {}
    incomplete: dict[str, str] = {}
    for name, provider_regions in scan.items():
        try:
            reconciled = _reconcile_one(state, load_provider, name, provider_regions, now, report.dry_run)
        except Exception as exc:  # noqa: BLE001 - an adapter's bug must not stop the others' teardown
            reconciled = fleet.ReconcileReport(problems=[f"{name}: {type(exc).__name__}: {exc}"])
        _collect(report, reconciled, name, recorded=name in recorded)
        previews.update(reconciled.previews)
        incomplete.update(reconciled.incomplete)
    rows = {row.name: row for row in state.list() if row.provider in scan}
    return list({**rows, **previews}.values()), incomplete


def _collect(report: TeardownReport, reconciled: fleet.ReconcileReport, name: str, *, recorded: bool) -> None:
    """Add one provider's reconcile to the report: a listing that failed where nothing is recorded is only a note."""
    listing_failed = [p for p in reconciled.problems if p.startswith(f"{name}: ")]
    if listing_failed and not recorded:
        report.skipped += listing_failed
        reconciled.problems = [p for p in reconciled.problems if p not in listing_failed]
    report.problems += reconciled.problems
    report.adopted += reconciled.adopted
    report.refused += reconciled.refused
    report.waiting += reconciled.waiting
    for adopted in reconciled.adopted:
        verb = "would adopt" if report.dry_run else "adopted"
        log.info("%s %s: a tagged deployment cloudrun had no live record of", verb, adopted)


def _reconcile_one(state: StateStore, load_provider: ProviderLoader, name: str, regions: list[str],
                   now: datetime, dry_run: bool) -> fleet.ReconcileReport:  # fmt: skip
    try:
        return fleet.reconcile(state, load_provider, {name: regions}, now, dry_run=dry_run)
    except Conflict:  # another watch adopted the same orphan first: read the rows again, once
        return fleet.reconcile(state, load_provider, {name: regions}, now, dry_run=dry_run)


def _invocations(candidates: Sequence[Candidate], rows: Sequence[Deployment], load_provider: ProviderLoader,
                 now: datetime, policy: Policy) -> dict[str, int | None]:  # fmt: skip
    """Return invocation counts, asking the cloud only for endpoints old enough for the idle rule."""
    refs = {row.name: row.ref for row in rows}
    counts: dict[str, int | None] = {}
    for candidate in candidates:
        window = reaper.needs_invocations(candidate, now, policy.idle_for)
        if window is None:
            continue
        ref = refs.get(candidate.name)
        try:
            counts[candidate.name] = load_provider(candidate.provider).invocations(ref, now - window) if ref else None
        except CloudrunError as exc:  # the adapter could not even be loaded: unknown, so kept
            log.warning("invocations of %s unknown: %s", candidate.name, exc)
            counts[candidate.name] = None
    return counts


def _credit(candidates: Sequence[Candidate], runs_out_at: CreditRunsOutAt | None,
            report: TeardownReport) -> dict[str, datetime | None]:  # fmt: skip
    if runs_out_at is None:
        return {}
    found: dict[str, datetime | None] = {}
    for candidate in candidates:
        try:
            found[candidate.name] = runs_out_at(candidate.name)
        except CloudrunError as exc:
            report.problems.append(f"{candidate.name}: credit runway unknown ({exc})")
    return found


def down_all(
    state: StateStore,
    load_provider: ProviderLoader,
    *,
    providers: Sequence[str] | None = None,
    regions: dict[str, list[str]] | None = None,
    dry_run: bool = False,
    max_workers: int = DEFAULT_WORKERS,
    now: datetime | None = None,
) -> TeardownReport:
    """Return the report of removing every billable deployment (the panic button), orphans included; a dry run writes
    nothing and reports what it would adopt and remove."""
    now = now or datetime.now(timezone.utc)
    report = TeardownReport(dry_run=dry_run)
    rows, _ = _reconciled_rows(state, load_provider, providers, regions, now, report)
    unfinished = _unfinished(state, rows, now)
    doomed = [(row, "cloudrun down --all") for row in rows if row.status.billable or row.name in unfinished]
    report.kept += [outcome(row, _why_not_billable(row, state, now)) for row in rows
                    if not row.status.billable and row.name not in unfinished]  # fmt: skip
    if dry_run:
        report.deleted += [outcome(row, "would delete: cloudrun down --all") for row, _ in doomed]
        return report
    return delete_concurrently(state, load_provider, doomed, report, max_workers=max_workers)


def watch(
    run_check: Callable[[], TeardownReport],
    *,
    interval_s: float,
    once: bool = False,
    on_report: Callable[[TeardownReport], None] = lambda report: None,
    sleep: Callable[[float], object] = time.sleep,
    stopping: Callable[[], bool] = lambda: False,
) -> TeardownReport:
    """Run `run_check` every `interval_s` seconds (once with `once`); return the last report.

    A failed check (e.g. the state file stayed locked) is logged and the loop goes on. Ctrl-C stops it
    (inside a check, after the deletions under way); so does `stopping()` turning true (SIGTERM: the check under
    way finishes, and `sleep` should return at once).
    """
    while True:
        try:
            report = run_check()
        except CloudrunError as exc:
            if once:
                raise
            log.error("check failed: %s; trying again in %ss", exc, interval_s)
            report = TeardownReport(problems=[str(exc)])
        on_report(report)
        if once or report.interrupted or stopping():
            return report
        sleep(interval_s)
        if stopping():
            return report
