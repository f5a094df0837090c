"""Deletion requests and their claims: the one record every delete path keeps (table `deletions`, m005).

`down`, a failed deploy's rollback, `teardown`, `watch` and `down --all` all remove a deployment the same way
(`cloudrun.teardown.deletion`): claim it, ask the cloud, then settle (deleted) or release (the delete failed). A claim
moves the row to `deleting` in one write transaction that locks the deployment's row first (SQLite's BEGIN
IMMEDIATE, PostgreSQL's SELECT ... FOR UPDATE) and records who holds it, so two processes, on one machine or on
two sharing a database, never delete the same endpoint at once. The request outlives a failure: a released row
goes back to the status it had, keeps its request, and the next `teardown`, `watch` or `down` retries it. A claim
whose holder died (kill -9, a crash, a reboot) or that is older than LEASE is stale: the next run takes it over
and finishes the job. So no sequence of failures leaves a row in `deleting` for good.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from cloudrun import timeutil
from cloudrun.models import Deployment, DeploymentStatus
from cloudrun.state import StateStore
from cloudrun.state.store import log_event

# A delete call takes seconds to minutes (Vertex undeploys within its 15-minute operation deadline): a claim held
# longer than this was abandoned by a process on another machine that this one cannot check.
LEASE = timedelta(minutes=30)
BILLABLE = frozenset(status for status in DeploymentStatus if status.billable)  # teardown, watch, `down --all`
EXPLICIT = BILLABLE | {DeploymentStatus.intent}  # `down NAME` and rollback also remove a deploy cut short


@dataclass(frozen=True)
class Request:
    """A deployment asked to go: why, since when, who holds it now (None: nobody), how it went so far."""

    name: str
    reason: str
    requested_at: datetime
    back_to: DeploymentStatus
    owner: str | None
    claimed_at: datetime | None
    attempts: int
    last_error: str | None

    def stale(self, now: datetime) -> bool:
        """Return whether nobody is working on it: unclaimed, its holder's process is gone, or past the lease."""
        if self.owner is None or self.claimed_at is None:
            return True
        if now - self.claimed_at >= LEASE:
            return True
        host, _, pid = self.owner.rpartition(":")
        return host == socket.gethostname() and pid.isdigit() and not _alive(int(pid))


@dataclass(frozen=True)
class Claim:
    """The outcome of a claim: the row (now `deleting`, this process's to delete), or why it is not."""

    deployment: Deployment | None
    why_not: str = ""


def me() -> str:
    """Return this process as a claim's owner: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def claim(
    state: StateStore,
    name: str,
    reason: str,
    *,
    statuses: Collection[DeploymentStatus] = BILLABLE,
    now: datetime | None = None,
) -> Claim:
    """Return the row, now `deleting` and held by this process, if it is in `statuses` or its claim is stale."""
    import sqlalchemy as sa

    from cloudrun.state.schema import deletions, deployments

    with state.transaction() as conn:
        row = conn.execute(
            sa.select(deployments.c.status).where(deployments.c.name == name).with_for_update()
        ).first()  # the deployment's row, locked: every writer of its deletion locks it first
        at = timeutil.utc(now)  # once the lock is held, like every event
        if row is None:
            return Claim(None, "not recorded")
        status = DeploymentStatus(row.status)
        request = _request(conn.execute(sa.select(deletions).where(deletions.c.name == name)).mappings().first())
        if status is DeploymentStatus.deleting:
            if request is not None and not request.stale(at):
                since = f"{request.claimed_at:%H:%M:%S} UTC" if request.claimed_at else "a moment ago"
                return Claim(None, f"being deleted by another cloudrun ({request.owner}, since {since})")
            back_to = request.back_to if request else DeploymentStatus.failed
            detail = f"deleting (taken over: {'its holder ' + request.owner + ' stopped' if request else 'unclaimed'})"
        elif status in statuses:
            back_to, detail = status, f"{status.value} -> deleting"
        else:
            return Claim(None, f"{status.value}: not deleted by this run")
        values = dict(reason=request.reason if request else reason, back_to=back_to.value, owner=me(),
                      claimed_at=timeutil.iso(at), attempts=(request.attempts if request else 0) + 1)  # fmt: skip
        if request is None:
            conn.execute(deletions.insert().values(name=name, requested_at=timeutil.iso(at), **values))
        else:
            conn.execute(deletions.update().where(deletions.c.name == name).values(values))
        conn.execute(
            deployments.update().where(deployments.c.name == name)
            .values(status=DeploymentStatus.deleting.value, updated_at=timeutil.iso(at))
        )  # fmt: skip
        log_event(conn, name, at, "deleting", f"{detail}: {reason}")
    return Claim(state.get(name))


def release(state: StateStore, name: str, error: str, now: datetime | None = None) -> None:
    """Give a claim this process holds back after a failed delete: the row returns to its status, the request stays."""
    import sqlalchemy as sa

    from cloudrun.state.schema import deletions, deployments

    with state.transaction() as conn:
        conn.execute(sa.select(deployments.c.name).where(deployments.c.name == name).with_for_update()).first()
        at = timeutil.iso(timeutil.utc(now))
        request = _request(conn.execute(sa.select(deletions).where(deletions.c.name == name)).mappings().first())
        if request is None or request.owner != me():
            return
        conn.execute(deletions.update().where(deletions.c.name == name)
                     .values(owner=None, claimed_at=None, last_error=error))  # fmt: skip
        changed = conn.execute(
            deployments.update()
            .where(deployments.c.name == name, deployments.c.status == DeploymentStatus.deleting.value)
            .values(status=request.back_to.value, updated_at=at)
        ).rowcount
        if changed:
            detail = f"deleting -> {request.back_to.value}: delete failed ({error}); the next run tries again"
            log_event(conn, name, timeutil.utc(now), "delete_failed", detail)


def pending(state: StateStore) -> dict[str, Request]:
    """Return every deletion asked for and not finished, by deployment name (claimed ones too)."""
    import sqlalchemy as sa

    from cloudrun.state.schema import deletions

    with state.reading() as conn:
        rows = conn.execute(sa.select(deletions).order_by(deletions.c.requested_at, deletions.c.name)).mappings().all()
    return {request.name: request for request in map(_request, rows) if request is not None}


def _request(row: object) -> Request | None:
    if row is None:
        return None
    values = dict(row)  # type: ignore[call-overload]
    return Request(
        name=values["name"], reason=values["reason"], requested_at=timeutil.parse(values["requested_at"]),
        back_to=DeploymentStatus(values["back_to"]), owner=values["owner"],
        claimed_at=timeutil.parse(values["claimed_at"]), attempts=values["attempts"], last_error=values["last_error"],
    )  # fmt: skip


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True
