"""Deleting endpoints concurrently, each idempotently, with a bound; and the report of what happened.

Used by every path that removes endpoints: `teardown --idle`, `watch` and `down --all`.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from cloudrun import fleet, reaper_store
from cloudrun.models import Deployment
from cloudrun.providers.base import Provider
from cloudrun.state import StateStore

log = logging.getLogger("cloudrun.reaper")
Loader = Callable[[str], Provider]
DEFAULT_WORKERS = 8


@dataclass
class Outcome:
    name: str
    reason: str
    provider: str = ""
    region: str = ""

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "reason": self.reason, "provider": self.provider, "region": self.region}


@dataclass
class TeardownReport:
    """What a check or a teardown did: deleted (or would, on a dry run), kept and why, failed and why."""

    deleted: list[Outcome] = field(default_factory=list)
    kept: list[Outcome] = field(default_factory=list)
    failed: list[Outcome] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # e.g. a provider whose endpoints could not be listed
    skipped: list[str] = field(default_factory=list)  # providers not reachable that cloudrun has nothing on
    dry_run: bool = False
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not self.failed and not self.problems and not self.interrupted

    def to_json(self) -> dict[str, Any]:
        return {"deleted": [o.to_json() for o in self.deleted], "kept": [o.to_json() for o in self.kept],
                "failed": [o.to_json() for o in self.failed], "problems": self.problems, "skipped": self.skipped,
                "dry_run": self.dry_run, "interrupted": self.interrupted}  # fmt: skip


def delete_concurrently(
    state: StateStore,
    load_provider: Loader,
    doomed: Sequence[tuple[Deployment, str]],
    report: TeardownReport,
    *,
    max_workers: int = DEFAULT_WORKERS,
) -> TeardownReport:
    """Delete each (row, reason) with at most `max_workers` at once; record every outcome in `report`.

    State is written from this thread only (SQLite connections stay in their thread); workers only call
    the cloud. A row is claimed just before its delete starts. Ctrl-C or SIGTERM (in the main thread) starts
    no new delete: the ones under way finish and are recorded, the rest are reported as kept; a second one
    interrupts at once.
    """
    waiting, limit = list(doomed), max(1, max_workers)
    running: dict[Future[None], tuple[Deployment, str]] = {}
    stop = threading.Event()
    with _ctrl_c_sets(stop), ThreadPoolExecutor(max_workers=limit, thread_name_prefix="cloudrun-delete") as pool:
        while running or (waiting and not stop.is_set()):
            while waiting and len(running) < limit and not stop.is_set():
                row, reason = waiting.pop(0)
                claimed = reaper_store.claim(state, row.name, reason)
                if claimed is None:
                    report.kept.append(outcome(row, "already deleted or being deleted by another cloudrun"))
                    continue
                running[pool.submit(_delete_one, load_provider(row.provider), claimed)] = (row, reason)
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


def _delete_one(provider: Provider, row: Deployment) -> None:
    ref = fleet.find_ref(provider, row)
    if ref is not None:
        provider.delete(ref)  # idempotent: not-found is success; refuses anything without cloudrun's tag


def _settle(state: StateStore, future: Future[None], row: Deployment, reason: str, report: TeardownReport) -> None:
    error = future.exception()
    if error is None:
        state.mark_deleted(row.name, reason=reason)
        log.info("deleted %s: %s", row.name, reason)
        report.deleted.append(outcome(row, reason))
        return
    # Any exception: one adapter's failure must not stop the others, and the row must not stay claimed.
    reaper_store.release(state, row.name, row.status, str(error))
    log.error("failed to delete %s: %s", row.name, error)
    report.failed.append(outcome(row, str(error)))


def outcome(row: Deployment, reason: str) -> Outcome:
    return Outcome(name=row.name, reason=reason, provider=row.provider, region=row.region)
