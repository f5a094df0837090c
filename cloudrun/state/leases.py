"""Leases in the state database: a role (the `watch` leader) that one process holds at a time, across machines.

A holder takes a free or expired lease, or renews its own, in one write transaction that locks the lease's row
(or, for a lease never taken, claims it by its primary key: of two racing processes one inserts, the other is
refused). A holder that stops renewing (killed, its machine gone) loses the lease when it expires, and another
watcher takes over; one that shuts down gracefully gives it back at once.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from cloudrun import timeutil
from cloudrun.state import StateStore


@dataclass(frozen=True)
class Lease:
    """Who holds a role, since when, until when; `mine` when this process is the holder."""

    name: str
    holder: str
    acquired_at: datetime
    expires_at: datetime
    mine: bool


def me() -> str:
    """Return this process as a lease holder: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def acquire(state: StateStore, name: str, ttl: timedelta, *, holder: str | None = None,
            now: datetime | None = None) -> Lease:  # fmt: skip
    """Return the lease after trying to take or renew it for `ttl`; `.mine` says whether this holder has it."""
    import sqlalchemy as sa
    from sqlalchemy import exc

    from cloudrun.state.schema import events, leases

    holder = holder or me()
    try:
        with state.transaction() as conn:
            at = timeutil.utc(now)
            row = conn.execute(sa.select(leases).where(leases.c.name == name).with_for_update()).mappings().first()
            current = _lease(row, holder) if row is not None else None
            if current is not None and not current.mine and current.expires_at > at:
                return current  # held by another, and alive
            acquired = current.acquired_at if current is not None and current.mine else at
            values = {"holder": holder, "acquired_at": timeutil.iso(acquired), "expires_at": timeutil.iso(at + ttl)}
            if current is None:
                conn.execute(leases.insert().values(name=name, **values))
            else:
                conn.execute(leases.update().where(leases.c.name == name).values(values))
            if current is None or not current.mine:
                taken = f"taken from {current.holder} (expired)" if current is not None else "taken"
                conn.execute(events.insert().values(name=f"lease:{name}", at=timeutil.iso(at), kind="lease",
                                                    detail=f"{taken} by {holder}"))  # fmt: skip
            return Lease(name, holder, acquired, at + ttl, True)
    except exc.IntegrityError:  # another process inserted the lease between our read and our insert: it holds it
        held = holder_of(state, name)
        assert held is not None
        return Lease(held.name, held.holder, held.acquired_at, held.expires_at, held.holder == holder)


def release(state: StateStore, name: str, *, holder: str | None = None, now: datetime | None = None) -> bool:
    """Give the lease back if this holder has it (a graceful shutdown); return whether it did."""
    from cloudrun.state.schema import events, leases

    holder = holder or me()
    with state.transaction() as conn:
        gone = conn.execute(leases.delete().where(leases.c.name == name, leases.c.holder == holder)).rowcount
        if gone:
            conn.execute(events.insert().values(name=f"lease:{name}", at=timeutil.iso(timeutil.utc(now)),
                                                kind="lease", detail=f"released by {holder}"))  # fmt: skip
    return bool(gone)


def holder_of(state: StateStore, name: str, *, holder: str | None = None) -> Lease | None:
    """Return the lease as recorded (expired or not), or None when nobody ever took it or it was released."""
    import sqlalchemy as sa

    from cloudrun.state.schema import leases

    with state.reading() as conn:
        row = conn.execute(sa.select(leases).where(leases.c.name == name)).mappings().first()
    return _lease(row, holder or me()) if row is not None else None


def _lease(row: object, holder: str) -> Lease:
    values = dict(row)  # type: ignore[call-overload]
    return Lease(values["name"], values["holder"], timeutil.parse(values["acquired_at"]),  # type: ignore[arg-type]
                 timeutil.parse(values["expires_at"]), values["holder"] == holder)  # type: ignore[arg-type]
