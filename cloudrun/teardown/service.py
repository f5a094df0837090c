"""`watch` as a service: one leader per database, JSON-lines logs, a health report, a graceful SIGTERM.

Several watchers may run against one state database (two machines, a restarted pod next to its predecessor): each
check starts by taking or renewing the `watch` lease in the database (cloudrun/state/leases.py), and only its holder
checks; the others report `standby` and try again at their next interval. The lease lasts three intervals (at least
LEASE_MIN), so a leader that dies is replaced within that time; one stopped by SIGTERM finishes the check under
way, gives the lease back and exits 0.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from cloudrun.state import StateStore, leases
from cloudrun.teardown.deletion import TeardownReport

LEASE = "watch"
LEASE_MIN = timedelta(minutes=2)
log = logging.getLogger("cloudrun.teardown")


class JsonLines(logging.Formatter):
    """One JSON object per log record: time (UTC ISO 8601), level, logger, message; for journald, Loki, CloudWatch."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry)


@dataclass
class Health:
    """What the health endpoint reports: healthy while checks (or standbys) happen on time and none is failing."""

    interval_s: float
    me: str = field(default_factory=leases.me)  # this watcher, as the lease names its holder
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    last_check_at: datetime | None = None
    last_problems: list[str] = field(default_factory=list)
    leader: bool = False
    holder: str | None = None
    stopping: bool = False

    def report(self, now: datetime | None = None) -> tuple[int, dict[str, Any]]:
        """Return the HTTP status (200 healthy, 503 not) and the JSON body of /healthz."""
        now = now or datetime.now(timezone.utc)
        due = timedelta(seconds=2 * self.interval_s + 60)  # a check, or a standby, is at most this late
        since = self.last_check_at or self.started_at
        late = now - since > due
        healthy = not self.stopping and not late and not self.last_problems
        body = {
            "status": "ok" if healthy else "stopping" if self.stopping else "late" if late else "failing",
            "leader": self.leader, "lease_holder": self.holder,
            "last_check_at": self.last_check_at.isoformat() if self.last_check_at else None,
            "problems": self.last_problems,
        }  # fmt: skip
        return (200 if healthy else 503), body


class Shutdown:
    """SIGTERM (a service manager stopping us) asks for a graceful stop: finish the check under way, then exit."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._previous: Any = None

    def install(self) -> None:
        self._previous = signal.signal(signal.SIGTERM, self._on_signal)

    def uninstall(self) -> None:
        """Put back the SIGTERM handler there was (the command may run inside another program, e.g. a test)."""
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)

    def _on_signal(self, signum: int, _frame: object) -> None:
        log.info("SIGTERM: stopping after the check under way")
        self.event.set()

    def requested(self) -> bool:
        return self.event.is_set()

    def sleep(self, seconds: float) -> bool:
        """Wait up to `seconds`, returning early when a stop is asked."""
        return self.event.wait(seconds)


def lease_ttl(interval_s: float) -> timedelta:
    return max(LEASE_MIN, timedelta(seconds=3 * interval_s))


def led_check(
    open_state: Callable[[], StateStore], check: Callable[[StateStore], TeardownReport], health: Health
) -> TeardownReport:
    """Return the report of one check if this process holds (or takes) the `watch` lease, else a standby report."""
    with open_state() as state:
        lease = leases.acquire(state, LEASE, lease_ttl(health.interval_s), holder=health.me)
        if lease.mine and not health.leader:
            log.info("leader: this watcher (%s) checks until %s unless it renews", lease.holder, lease.expires_at)
        health.leader, health.holder = lease.mine, lease.holder
        if not lease.mine:
            standby = f"{lease.holder} leads until {lease.expires_at:%Y-%m-%d %H:%M:%S} UTC"
            log.info("standby: %s", standby)
            report = TeardownReport(standby=standby)
        else:
            report = check(state)
    health.last_check_at, health.last_problems = datetime.now(timezone.utc), list(report.problems)
    return report


def step_down(open_state: Callable[[], StateStore], health: Health) -> None:
    """Give the lease back at shutdown, so another watcher takes over at its next check rather than at expiry."""
    health.stopping = True
    if not health.leader:
        return
    try:
        with open_state() as state:
            if leases.release(state, LEASE, holder=health.me):
                log.info("lease released")
    except Exception as exc:  # noqa: BLE001 - shutting down: the lease then expires by itself
        log.warning("could not release the lease (%s): it expires by itself", exc)
