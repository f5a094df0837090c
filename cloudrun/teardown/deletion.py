"""Deleting endpoints concurrently, each idempotently, with a bound; and the report of what happened.

The one delete path: `down NAME`, the rollback of a failed deploy, `teardown --idle`, `watch` and `down --all`
all come here. Each deployment is claimed first (`cloudrun.state.deletions`), then its cloud resources are removed, then
it is settled as deleted, or released when the delete failed: the request stays, and the next run retries it.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Collection, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from cloudrun.errors import CloudrunError, Conflict
from cloudrun.models import Deployment, DeploymentStatus, Removal
from cloudrun.provider import ProviderLoader
from cloudrun.state import StateStore
from cloudrun.state import deletions as claims
from cloudrun.teardown import fleet

log = logging.getLogger("cloudrun.teardown")
DEFAULT_WORKERS = 8


@dataclass
class Outcome:
    name: str
    reason: str
    provider: str = ""
    region: str = ""
    removal: Removal | None = None  # a deletion's: what it removed in the cloud, and what it found already gone

    def to_json(self) -> dict[str, Any]:
        found = (
            {"removed": list(self.removal.removed), "not_found": list(self.removal.not_found)} if self.removal else {}
        )
        return {"name": self.name, "reason": self.reason, "provider": self.provider, "region": self.region, **found}


@dataclass(frozen=True)
class Removed:
    """What `remove` did: the deployment's final row, and what its delete removed in the cloud and found gone."""

    deployment: Deployment
    removal: Removal


@dataclass
class TeardownReport:
    """What a check or a teardown did: deleted (or would, on a dry run), kept and why, failed and why."""

    deleted: list[Outcome] = field(default_factory=list)
    kept: list[Outcome] = field(default_factory=list)
    failed: list[Outcome] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # e.g. a provider whose endpoints could not be listed
    skipped: list[str] = field(default_factory=list)  # providers not reachable that cloudrun has nothing on
    adopted: list[str] = field(default_factory=list)  # tagged sets recorded now (a dry run: would be), by name
    refused: list[str] = field(default_factory=list)  # look-alikes left alone (tagged, with untagged parts), and why
    waiting: list[str] = field(default_factory=list)  # half-made sets a deploy may still be making, left for now
    dry_run: bool = False
    interrupted: bool = False
    standby: str | None = None  # `watch` did not check: another watcher leads (who, until when)
    errors: dict[str, BaseException] = field(default_factory=dict, repr=False)  # name -> why its delete failed

    @property
    def ok(self) -> bool:
        return not self.failed and not self.problems and not self.interrupted

    def to_json(self) -> dict[str, Any]:
        return {"deleted": [o.to_json() for o in self.deleted], "kept": [o.to_json() for o in self.kept],
                "failed": [o.to_json() for o in self.failed], "problems": self.problems, "skipped": self.skipped,
                "adopted": self.adopted, "refused": self.refused, "waiting": self.waiting,
                "dry_run": self.dry_run, "interrupted": self.interrupted,
                **({"standby": self.standby} if self.standby else {})}  # fmt: skip


def delete_concurrently(
    state: StateStore,
    load_provider: ProviderLoader,
    doomed: Sequence[tuple[Deployment, str]],
    report: TeardownReport,
    *,
    max_workers: int = DEFAULT_WORKERS,
    statuses: Collection[DeploymentStatus] = claims.BILLABLE,
) -> TeardownReport:
    """Delete each (row, reason) with at most `max_workers` at once; record every outcome in `report`.

    A row is deleted if its status is in `statuses` (or a claim on it was abandoned); otherwise it is reported kept.

    State is written from this thread only (SQLite connections stay in their thread); workers only call
    the cloud. A row is claimed just before its delete starts. Ctrl-C or SIGTERM (in the main thread) starts
    no new delete: the ones under way finish and are recorded, the rest are reported as kept; a second one
    interrupts at once.
    """
    waiting, limit = list(doomed), max(1, max_workers)
    running: dict[Future[Removal], tuple[Deployment, str]] = {}
    stop = threading.Event()
    with _ctrl_c_sets(stop), ThreadPoolExecutor(max_workers=limit, thread_name_prefix="cloudrun-delete") as pool:
        while running or (waiting and not stop.is_set()):
            while waiting and len(running) < limit and not stop.is_set():
                row, reason = waiting.pop(0)
                taken = claims.claim(state, row.name, reason, statuses=statuses)
                if taken.deployment is None:
                    report.kept.append(outcome(row, taken.why_not))
                    continue
                running[pool.submit(_delete_one, load_provider, taken.deployment)] = (taken.deployment, reason)
            if running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    _settle(state, future, *running.pop(future), report)
    if stop.is_set():
        report.interrupted = True
        report.kept += [outcome(row, "not started: interrupted (Ctrl-C)") for row, _ in waiting]  # or SIGTERM
    return report


@contextlib.contextmanager
def _ctrl_c_sets(stop: threading.Event) -> Iterator[None]:
    """Within the block, a first Ctrl-C (SIGINT) or SIGTERM (systemd's stop) sets `stop` instead of ending
    the process, so no claimed row is left `deleting` half-done; a second one acts as usual. Main thread only.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}

    def first_signal(signum: int, frame: object) -> None:
        stop.set()
        log.warning("stopping: finishing the deletions under way, starting no more (again to abort)")
        signal.signal(signum, previous[signum] or signal.SIG_DFL)

    for signum in previous:
        signal.signal(signum, first_signal)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler or signal.SIG_DFL)


def _delete_one(load_provider: ProviderLoader, row: Deployment) -> Removal:
    """Return what deleting the row's resources did; found by the row's ref, else by its tags (a deploy cut short)."""
    provider = load_provider(row.provider)  # in the worker: an adapter that cannot load fails this row only
    ref = fleet.find_ref(provider, row)
    if ref is None:
        return Removal()  # nothing carries its tags there
    # Idempotent: not-found is success; refuses anything without cloudrun's tag. A third-party adapter may say nothing.
    return provider.delete(ref) or Removal()


def _settle(state: StateStore, future: Future[Removal], row: Deployment, reason: str, report: TeardownReport) -> None:
    error = future.exception()
    if error is None:
        removal = future.result()
        state.mark_deleted(row.name, reason=f"{reason}; {describe(removal, row)}")
        log.info("deleted %s: %s (%s)", row.name, reason, describe(removal, row))
        report.deleted.append(outcome(row, reason, removal))
        return
    # Any exception: one adapter's failure must not stop the others, and the row must not stay claimed.
    claims.release(state, row.name, str(error))
    report.errors[row.name] = error
    log.error("failed to delete %s: %s", row.name, error)
    report.failed.append(outcome(row, str(error)))


def outcome(row: Deployment, reason: str, removal: Removal | None = None) -> Outcome:
    return Outcome(name=row.name, reason=reason, provider=row.provider, region=row.region, removal=removal)


def describe(removal: Removal, row: Deployment) -> str:
    """Return what a delete did in words: what it removed, what it looked for and did not find, or that it found
    nothing at all."""
    parts = [f"removed {', '.join(removal.removed)}"] if removal.removed else []
    parts += [f"not found: {', '.join(removal.not_found)}"] if removal.not_found else []
    if not removal.removed:
        parts.insert(0, f"nothing of it was found in {row.provider} {row.region} (searched by its cloudrun tags)")
    return "; ".join(parts)


def remove(state: StateStore, load_provider: ProviderLoader, row: Deployment, reason: str) -> Removed:
    """Return the final row and what was removed, once the deployment is deleted (`down NAME`, a rollback); the same
    claimed path as the rest.

    Raises Conflict if another process is deleting it, and the delete's own error if it failed (the request stays,
    so the next `down`, `teardown` or `watch` retries it).
    """
    report = delete_concurrently(state, load_provider, [(row, reason)], TeardownReport(), max_workers=1,
                                 statuses=claims.EXPLICIT)  # fmt: skip
    if report.failed:
        error = report.errors.get(row.name)
        message = f"could not remove {row.name}: {report.failed[0].reason}"
        hint = f"it stays recorded; `cloudrun down {row.name}` (or the next teardown/watch) tries again"
        raise type(error)(message, hint=hint) if isinstance(error, CloudrunError) else CloudrunError(message, hint=hint)
    if report.kept:
        raise Conflict(f"{row.name} was not removed: {report.kept[0].reason}",
                       hint="wait for it, or check with `cloudrun status --refresh`")  # fmt: skip
    final = state.get(row.name)
    assert final is not None
    return Removed(final, report.deleted[0].removal or Removal())
