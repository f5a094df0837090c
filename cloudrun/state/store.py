"""cloudrun's own record of what it deployed, in one database (database.py): safe for many cloudrun processes at once.

Every write is one short transaction that locks what it reads (database.py says how, on SQLite and PostgreSQL),
so a second process waits instead of failing halfway or overwriting; a new name is claimed by its primary key, and
a racing claim of the same name sees the winner's row and is refused. The schema grows by Alembic revisions
(migrations/); a database this version cannot use is reported and left untouched, never recreated. The `events`
table logs every change of state, with its reason. SQLAlchemy is imported when a store is opened, not before.
"""

from __future__ import annotations

import builtins
import contextlib
import getpass
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from cloudrun import timeutil
from cloudrun.errors import Conflict, NotFound
from cloudrun.models import (
    Deployment,
    DeploymentStatus,
    DeploySpec,
    Endpoint,
    EndpointRef,
)
from cloudrun.state import database, upgrade
from cloudrun.state.adopted import adoption as adoption  # re-exported: fleet.py previews adoptions through the store
from cloudrun.state.adopted import changed, check_marked, from_cloud, orphan
from cloudrun.state.database import StateError as StateError  # re-exported: callers catch it from here

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

BUSY_TIMEOUT_SECONDS = 10.0
GONE = tuple(status for status in DeploymentStatus if status.gone)  # for SQL filters
_RACES = 5  # a write that lost a race for a new row's key is run again this many times, then the error stands
T = TypeVar("T")



class StateStore:
    """cloudrun's deployments and their event log, in the configured database (default: paths.state_path())."""

    def __init__(
        self, path: Path | None = None, *, url: str | None = None, timeout: float = BUSY_TIMEOUT_SECONDS
    ) -> None:
        self.target = database.target(Path(path) if path is not None else None, url)
        self.path = self.target.path  # the SQLite file, or None on PostgreSQL
        self.db = database.Database(self.target, timeout)
        try:
            upgrade.prepare(self.db)
        except BaseException:
            self.db.close()
            raise

    @property
    def dialect(self) -> str:
        """Return the database's kind: "sqlite" or "postgresql"."""
        return self.db.dialect

    def close(self) -> None:
        """Close the database's connections (idempotent)."""
        self.db.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- recording a deployment's life --------------------------------------------------------------

    def record_intent(
        self,
        spec: DeploySpec,
        *,
        price_per_hour_usd: Decimal,
        price_source: str,
        owner: str | None = None,
        now: datetime | None = None,
    ) -> Deployment:
        """Return the new `intent` row, written before any cloud call; raise Conflict if the name is live.

        `owner` says who deploys (default: the OS user); the name is claimed for everyone sharing the database.
        """
        where = f"{spec.provider} {spec.region} {spec.instance_type}"

        def write(conn: Connection) -> Deployment:
            at = timeutil.utc(now)  # stamped once the row is locked: events are in the order they happened
            deployment = Deployment(**spec.model_dump(), price_per_hour_usd=price_per_hour_usd,
                                    price_source=price_source, status=DeploymentStatus.intent,
                                    created_at=at, owner=owner or whoami())  # fmt: skip
            detail = f"{spec.model_id} on {where} at ${deployment.price_per_hour_usd}/h ({price_source})"
            detail += f" for {deployment.owner}"
            reused = _take_name(conn, spec.name)
            if reused:
                detail += "; reuses the name of a removed deployment"
            _save(conn, deployment, at, new=not reused)
            log_event(conn, spec.name, at, "intent", detail)
            return deployment

        return self.racing(write)

    def mark_creating(self, name: str, ref: EndpointRef, now: datetime | None = None) -> Deployment:
        """Return the row, now `creating`, holding the cloud's reference to the endpoint being made."""
        detail = f"endpoint {ref.endpoint_id} requested in {ref.provider} {ref.region}"
        return self._transition(name, DeploymentStatus.creating, now, detail, ref=ref)

    def mark_ready(self, name: str, now: datetime | None = None) -> Deployment:
        """Return the row, now `in_service`, with ready_at set."""
        return self._transition(name, DeploymentStatus.in_service, now, "", stamp="ready_at")

    def mark_failed(self, name: str, reason: str, now: datetime | None = None) -> Deployment:
        """Return the row, now `failed`, with the reason kept in failure_reason."""
        return self._transition(name, DeploymentStatus.failed, now, reason, failure_reason=reason)

    def mark_deleting(self, name: str, now: datetime | None = None, *, reason: str = "") -> Deployment:
        """Return the row, now `deleting` (a delete was asked of the cloud)."""
        return self._transition(name, DeploymentStatus.deleting, now, reason)

    def mark_deleted(self, name: str, now: datetime | None = None, *, reason: str = "") -> Deployment:
        """Return the row, now `deleted`, with deleted_at set: it costs nothing from then on."""
        return self._transition(name, DeploymentStatus.deleted, now, reason, stamp="deleted_at")

    def mark_vanished(self, name: str, now: datetime | None = None, *, reason: str = "") -> Deployment:
        """Return the row, now `vanished` (gone from the cloud, not deleted by cloudrun), deleted_at = now."""
        return self._transition(name, DeploymentStatus.vanished, now, reason, stamp="deleted_at")

    def forget_intent(self, name: str, now: datetime | None = None, *, reason: str = "") -> None:
        """Delete a row still in `intent` (nothing was created in the cloud); its events are kept."""
        from cloudrun.state.schema import deployments

        with self.transaction() as conn:
            at = timeutil.utc(now)
            current = _require(conn, name)
            if current.status is not DeploymentStatus.intent:
                raise Conflict(
                    f"deployment {name!r} is {current.status.value}, not intent: it may exist in the cloud",
                    hint=f"remove it with `cloudrun down {name}`",
                )
            conn.execute(deployments.delete().where(deployments.c.name == name))
            log_event(conn, name, at, "forgotten", reason or "nothing was created in the cloud")

    def adopt(
        self,
        endpoint: Endpoint,
        *,
        model_id: str = "unknown",
        price_per_hour_usd: Decimal = Decimal(0),
        price_source: str = "unknown (adopted)",
        service: str,
        now: datetime | None = None,
    ) -> Deployment:
        """Return the row recorded for an endpoint found in the cloud by its cloudrun tags.

        An `intent` row of that name (a deploy interrupted after its create call) is completed in place,
        keeping its model and price; otherwise a new row is written. Either way adopted=True.
        """
        check_marked(endpoint)
        name = endpoint.ref.name

        def write(conn: Connection) -> Deployment:
            at = timeutil.utc(now)
            current = _get(conn, name, lock=True)
            if current is not None and current.status is DeploymentStatus.intent:
                deployment = changed(current, **from_cloud(endpoint, at, default_created_at=current.created_at))
                detail = "completes an interrupted deploy"
            else:
                _take_name(conn, name)
                deployment = orphan(endpoint, model_id, price_per_hour_usd, price_source, service, at)
                detail = "an orphan: cloudrun had no live record of it"
            _save(conn, deployment, at, new=current is None)
            log_event(conn, name, at, "adopted", f"{deployment.status.value} (cloud: {endpoint.state.value}); {detail}")
            return deployment

        return self.racing(write)

    # --- reading ------------------------------------------------------------------------------------

    def get(self, name: str) -> Deployment | None:
        """Return the deployment of that name, or None."""
        with self.reading() as conn:
            return _get(conn, name)

    def list(self, include_deleted: bool = False) -> builtins.list[Deployment]:
        """Return the deployments ordered by created_at; deleted and vanished ones only if asked."""
        import sqlalchemy as sa

        from cloudrun.state.schema import deployments

        hidden = [] if include_deleted else [status.value for status in GONE]
        query = sa.select(deployments).order_by(deployments.c.created_at, deployments.c.name)
        if hidden:
            query = query.where(deployments.c.status.not_in(hidden))
        with self.reading() as conn:
            return [_to_deployment(row) for row in conn.execute(query).mappings()]

    def events(self, name: str | None = None) -> builtins.list[dict[str, Any]]:
        """Return the event log, oldest first, of one name or all: dicts of id, name, at, kind, detail."""
        import sqlalchemy as sa

        from cloudrun.state.schema import events

        query = sa.select(events).order_by(events.c.id)
        if name is not None:
            query = query.where(events.c.name == name)
        with self.reading() as conn:
            rows = conn.execute(query).mappings().all()
        return [{**dict(row), "at": timeutil.parse(row["at"])} for row in rows]

    def transaction(self) -> contextlib.AbstractContextManager[Connection]:
        """Return one write transaction (SQLAlchemy Core connection), for the state modules with their own tables."""
        return self.db.write()

    def reading(self) -> contextlib.AbstractContextManager[Connection]:
        """Return one read-only transaction: a consistent snapshot that takes no write lock."""
        return self.db.read()

    def racing(self, write: Callable[[Connection], T]) -> T:
        """Return write(conn) run in one write transaction, run again when it lost a race to insert the same key.

        On PostgreSQL two processes can both see no row of a name, and the second INSERT then fails on the primary
        key once the first commits: run again, it sees the winner's row and decides on it (e.g. Conflict).
        """
        from sqlalchemy import exc

        for attempt in range(_RACES):
            try:
                with self.transaction() as conn:
                    return write(conn)
            except exc.IntegrityError:
                if attempt == _RACES - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    # --- internals ----------------------------------------------------------------------------------

    def _transition(
        self, name: str, status: DeploymentStatus, now: datetime | None, reason: str, stamp: str = "", **changes: Any
    ) -> Deployment:
        """Return the row after setting its status, `changes` and the `stamp` time field; the change is logged.

        Compare-and-set: a gone row (deleted, vanished) is final, so a late or concurrent writer (a deploy that
        lost its endpoint to `down --all`, a reconcile that read the cloud before the delete settled) gets the
        row back unchanged and rewrites no history; `vanished` is therefore reached only from a live status.
        """
        from cloudrun.state.schema import deletions

        with self.transaction() as conn:
            current = _require(conn, name)  # locked until the end of the transaction
            at = timeutil.utc(now)  # stamped once the row is locked: events are in the order they happened
            if current.status.gone:
                return current
            deployment = changed(current, status=status, **changes, **({stamp: at} if stamp else {}))
            _save(conn, deployment, at, new=False)
            if status.gone:  # a deletion asked for it is done (deletions.py)
                conn.execute(deletions.delete().where(deletions.c.name == name))
            detail = f"{current.status.value} -> {status.value}" + (f": {reason}" if reason else "")
            log_event(conn, name, at, status.value, detail)
        return deployment


def whoami() -> str:
    """Return who this process deploys for: the OS user (LOGNAME, USER, ... or the password database)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container's uid with no passwd entry
        return "unknown"


# --- rows <-> models ----------------------------------------------------------------------------------------


def _get(conn: Connection, name: str, *, lock: bool = False) -> Deployment | None:
    """Return the deployment of that name, or None; `lock` holds its row until the transaction ends."""
    import sqlalchemy as sa

    from cloudrun.state.schema import deployments

    query = sa.select(deployments).where(deployments.c.name == name)
    row = conn.execute(query.with_for_update() if lock else query).mappings().first()
    return _to_deployment(row) if row is not None else None


def _require(conn: Connection, name: str) -> Deployment:
    """Return the deployment of that name, its row locked; raise NotFound if there is none."""
    deployment = _get(conn, name, lock=True)
    if deployment is None:
        raise NotFound(f"no deployment named {name!r} is recorded", hint="`cloudrun status` lists them")
    return deployment


def _take_name(conn: Connection, name: str) -> bool:
    """Return whether the name belonged to a removed (deleted/vanished) row; raise Conflict if it is live."""
    current = _get(conn, name, lock=True)
    if current is not None and current.status.live:
        raise Conflict(
            f"a deployment named {name!r} already exists ({current.status.value}"
            + (f", deployed by {current.owner})" if current.owner else ")"),
            hint=f"choose another --name, or remove it with `cloudrun down {name}`",
        )
    return current is not None


def _save(conn: Connection, deployment: Deployment, updated_at: datetime, *, new: bool) -> None:
    """Write the deployment's row: Decimal as text, booleans as 0/1. `new`: insert it, else replace the row.

    A row to replace is one the caller read and locked. A new row is inserted, never "updated if it appeared
    meanwhile": on PostgreSQL a racing process may have inserted the name since our read, and its row must not be
    overwritten; the INSERT fails on the key instead, and `racing` runs the write again to see the winner's row.
    """
    from cloudrun.state.schema import deployments

    row = deployment.model_dump(exclude={"ref"})
    row.update(
        status=deployment.status.value,
        price_per_hour_usd=str(deployment.price_per_hour_usd),
        spot=int(deployment.spot),
        adopted=int(deployment.adopted),
        ref_json=deployment.ref.model_dump_json() if deployment.ref else None,
        **{field: timeutil.iso(row[field]) for field in ("created_at", "ready_at", "deleted_at")},
        updated_at=timeutil.iso(updated_at),
    )
    if new:
        conn.execute(deployments.insert().values(row))
    else:
        conn.execute(deployments.update().where(deployments.c.name == deployment.name).values(row))


def _to_deployment(row: Any) -> Deployment:
    """Return the Deployment a row (a mapping of column to value) holds."""
    values = dict(row)
    del values["updated_at"]
    ref_json = values.pop("ref_json")
    values.update(
        spot=bool(values["spot"]),
        adopted=bool(values["adopted"]),
        price_per_hour_usd=Decimal(values["price_per_hour_usd"]),
        ref=EndpointRef.model_validate_json(ref_json) if ref_json else None,
        **{field: timeutil.parse(values[field]) for field in ("created_at", "ready_at", "deleted_at")},
    )
    return Deployment(**values)


def log_event(conn: Connection, name: str, at: datetime, kind: str, detail: str) -> None:
    """Append one event to the log, stamped no earlier than the name's last event.

    A writer may have read its time before it waited for the lock (a sweep's `now`, taken before ten other
    processes wrote): its event still comes after what they logged, so a row's history never goes back in time.
    """
    import sqlalchemy as sa

    from cloudrun.state.schema import events

    stamp = timeutil.iso(at)
    last = conn.execute(sa.select(events.c.at).where(events.c.name == name).order_by(events.c.id.desc()).limit(1))
    previous = last.scalar()
    conn.execute(events.insert().values(name=name, at=max(stamp, previous or stamp), kind=kind, detail=detail))
