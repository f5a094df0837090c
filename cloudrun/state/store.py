"""cloudrun's own record of what it deployed: one SQLite file, safe for two cloudrun processes at once.

Every write is one short `BEGIN IMMEDIATE` transaction, so a second process waits (busy timeout) instead
of failing halfway with "database is locked". The schema grows only by appending a function to MIGRATIONS;
`PRAGMA user_version` counts the ones applied. A file this version cannot use is reported and left
untouched, never recreated. The `events` table logs every change of state, with its reason.
"""

from __future__ import annotations

import builtins
import contextlib
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from cloudrun import paths, timeutil
from cloudrun.errors import Conflict, InvalidInput, NotFound
from cloudrun.models import (
    DEPLOYMENT_TAG,
    MANAGED_TAG,
    Deployment,
    DeploymentStatus,
    DeploySpec,
    Endpoint,
    EndpointRef,
    EndpointState,
)
from cloudrun.state import file as state_file
from cloudrun.state.file import StateError as StateError  # re-exported: callers catch it from here
from cloudrun.state.migrations import MIGRATIONS

BUSY_TIMEOUT_SECONDS = 10.0
GONE = tuple(status for status in DeploymentStatus if status.gone)  # for SQL filters

_ADOPTED_STATUS = {
    EndpointState.creating: DeploymentStatus.creating,
    EndpointState.updating: DeploymentStatus.creating,
    EndpointState.in_service: DeploymentStatus.in_service,
    EndpointState.failed: DeploymentStatus.failed,
    EndpointState.deleting: DeploymentStatus.deleting,
    EndpointState.deleted: DeploymentStatus.vanished,
}


class StateStore:
    """cloudrun's deployments and their event log, kept in one SQLite file (default: paths.state_path())."""

    def __init__(self, path: Path | None = None, *, timeout: float = BUSY_TIMEOUT_SECONDS) -> None:
        self.path = Path(path) if path is not None else paths.state_path()
        self._conn = state_file.open_file(self.path, timeout)
        try:
            with state_file.waiting_for_lock(self.path):
                version = state_file.check_usable(self._conn, self.path, len(MIGRATIONS))
                state_file.use_wal(self._conn, timeout)
                if version < len(MIGRATIONS):
                    self._migrate()
            state_file.make_private(self.path)
        except BaseException:
            self._conn.close()
            raise

    def close(self) -> None:
        """Close the database connection (idempotent)."""
        self._conn.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- recording a deployment's life --------------------------------------------------------------

    def record_intent(
        self, spec: DeploySpec, *, price_per_hour_usd: Decimal, price_source: str, now: datetime | None = None
    ) -> Deployment:
        """Return the new `intent` row, written before any cloud call; raise Conflict if the name is live."""
        where = f"{spec.provider} {spec.region} {spec.instance_type}"
        with self._write() as conn:
            at = timeutil.utc(now)  # stamped once the write lock is held: events are in the order they happened
            deployment = Deployment(**spec.model_dump(), price_per_hour_usd=price_per_hour_usd,
                                    price_source=price_source, status=DeploymentStatus.intent,
                                    created_at=at)  # fmt: skip
            detail = f"{spec.model_id} on {where} at ${deployment.price_per_hour_usd}/h ({price_source})"
            if _take_name(conn, spec.name):
                detail += "; reuses the name of a removed deployment"
            _save(conn, deployment, at)
            _log(conn, spec.name, at, "intent", detail)
        return deployment

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
        with self._write() as conn:
            at = timeutil.utc(now)
            current = _require(conn, name)
            if current.status is not DeploymentStatus.intent:
                raise Conflict(
                    f"deployment {name!r} is {current.status.value}, not intent: it may exist in the cloud",
                    hint=f"remove it with `cloudrun down {name}`",
                )
            conn.execute("DELETE FROM deployments WHERE name = ?", (name,))
            _log(conn, name, at, "forgotten", reason or "nothing was created in the cloud")

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
        _check_marked(endpoint)
        name = endpoint.ref.name
        with self._write() as conn:
            at = timeutil.utc(now)
            current = _get(conn, name)
            if current is not None and current.status is DeploymentStatus.intent:
                deployment = _changed(current, **_from_cloud(endpoint, at, default_created_at=current.created_at))
                detail = "completes an interrupted deploy"
            else:
                _take_name(conn, name)
                deployment = _orphan(endpoint, model_id, price_per_hour_usd, price_source, service, at)
                detail = "an orphan: cloudrun had no live record of it"
            _save(conn, deployment, at)
            _log(conn, name, at, "adopted", f"{deployment.status.value} (cloud: {endpoint.state.value}); {detail}")
        return deployment

    # --- reading ------------------------------------------------------------------------------------

    def get(self, name: str) -> Deployment | None:
        """Return the deployment of that name, or None."""
        return _get(self._conn, name)

    def list(self, include_deleted: bool = False) -> builtins.list[Deployment]:
        """Return the deployments ordered by created_at; deleted and vanished ones only if asked."""
        hidden = () if include_deleted else tuple(status.value for status in GONE)
        marks = ", ".join("?" * len(hidden))
        rows = self._conn.execute(
            f"SELECT * FROM deployments WHERE status NOT IN ({marks}) ORDER BY created_at, name", hidden
        )
        return [_to_deployment(row) for row in rows]

    def events(self, name: str | None = None) -> builtins.list[dict[str, Any]]:
        """Return the event log, oldest first, of one name or all: dicts of id, name, at, kind, detail."""
        where, args = ("WHERE name = ?", (name,)) if name is not None else ("", ())
        rows = self._conn.execute(f"SELECT id, name, at, kind, detail FROM events {where} ORDER BY id", args)
        return [{**dict(row), "at": timeutil.parse(row["at"])} for row in rows]

    def transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """Return one BEGIN IMMEDIATE transaction on the store's connection, for modules with their own tables."""
        return self._write()

    # --- internals ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """Yield the connection inside one BEGIN IMMEDIATE transaction: committed on success, else rolled back."""
        with state_file.waiting_for_lock(self.path):
            self._conn.execute("BEGIN IMMEDIATE")  # take the write lock now, waiting up to the busy timeout
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def _migrate(self) -> None:
        """Apply the migrations the file lacks, in order, in one transaction (a racing process waits)."""
        with self._write() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]  # again: another process may have won
            for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
                migration(conn)
                conn.execute(f"PRAGMA user_version = {number}")

    def _transition(
        self, name: str, status: DeploymentStatus, now: datetime | None, reason: str, stamp: str = "", **changes: Any
    ) -> Deployment:
        """Return the row after setting its status, `changes` and the `stamp` time field; the change is logged.

        Compare-and-set: a gone row (deleted, vanished) is final, so a late or concurrent writer (a deploy that
        lost its endpoint to `down --all`, a reconcile that read the cloud before the delete settled) gets the
        row back unchanged and rewrites no history; `vanished` is therefore reached only from a live status.
        """
        with self._write() as conn:
            at = timeutil.utc(now)  # stamped once the write lock is held: events are in the order they happened
            current = _require(conn, name)
            if current.status.gone:
                return current
            deployment = _changed(current, status=status, **changes, **({stamp: at} if stamp else {}))
            _save(conn, deployment, at)
            if status.gone:  # a deletion asked for it is done (claims.py)
                conn.execute("DELETE FROM deletions WHERE name = ?", (name,))
            detail = f"{current.status.value} -> {status.value}" + (f": {reason}" if reason else "")
            _log(conn, name, at, status.value, detail)
        return deployment


# --- rows <-> models ----------------------------------------------------------------------------------------


def _get(conn: sqlite3.Connection, name: str) -> Deployment | None:
    """Return the deployment of that name, or None."""
    row = conn.execute("SELECT * FROM deployments WHERE name = ?", (name,)).fetchone()
    return _to_deployment(row) if row is not None else None


def _require(conn: sqlite3.Connection, name: str) -> Deployment:
    """Return the deployment of that name; raise NotFound if there is none."""
    deployment = _get(conn, name)
    if deployment is None:
        raise NotFound(f"no deployment named {name!r} is recorded", hint="`cloudrun status` lists them")
    return deployment


def _take_name(conn: sqlite3.Connection, name: str) -> bool:
    """Return whether the name belonged to a removed (deleted/vanished) row; raise Conflict if it is live."""
    current = _get(conn, name)
    if current is not None and current.status.live:
        raise Conflict(
            f"a deployment named {name!r} already exists ({current.status.value})",
            hint=f"choose another --name, or remove it with `cloudrun down {name}`",
        )
    return current is not None


def _changed(deployment: Deployment, **changes: Any) -> Deployment:
    """Return a validated copy of the deployment with `changes` applied."""
    return Deployment.model_validate({**deployment.model_dump(), **changes})


def _save(conn: sqlite3.Connection, deployment: Deployment, updated_at: datetime) -> None:
    """Write the deployment's row, replacing any row of that name: Decimal as text, booleans as 0/1."""
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
    columns, values = ", ".join(row), ", ".join(f":{column}" for column in row)
    conn.execute(f"INSERT OR REPLACE INTO deployments ({columns}) VALUES ({values})", row)


def _to_deployment(row: sqlite3.Row) -> Deployment:
    """Return the Deployment a row holds."""
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


def _log(conn: sqlite3.Connection, name: str, at: datetime, kind: str, detail: str) -> None:
    """Append one event to the log."""
    conn.execute(
        "INSERT INTO events (name, at, kind, detail) VALUES (?, ?, ?, ?)", (name, timeutil.iso(at), kind, detail)
    )


# --- adopting what the cloud has ------------------------------------------------------------------------------


def _check_marked(endpoint: Endpoint) -> None:
    """Raise InvalidInput unless the endpoint carries cloudrun's tags for its name: nothing else is adopted."""
    name, tags = endpoint.ref.name, endpoint.tags
    if tags.get(MANAGED_TAG) != "true" or tags.get(DEPLOYMENT_TAG, name) != name:
        raise InvalidInput(
            f"endpoint {endpoint.ref.endpoint_id} is not tagged {MANAGED_TAG}=true, {DEPLOYMENT_TAG}={name}:"
            " cloudrun adopts only endpoints it created"
        )


def _from_cloud(endpoint: Endpoint, at: datetime, *, default_created_at: datetime) -> dict[str, Any]:
    """Return the row fields that the cloud's description of an adopted endpoint sets."""
    status = _ADOPTED_STATUS[endpoint.state]
    return {
        "ref": endpoint.ref,
        "status": status,
        "adopted": True,
        "created_at": timeutil.utc(endpoint.created_at or default_created_at),
        "failure_reason": endpoint.failure_reason,
        "deleted_at": at if status is DeploymentStatus.vanished else None,
    }


def _orphan(
    endpoint: Endpoint, model_id: str, price: Decimal, price_source: str, service: str, at: datetime
) -> Deployment:
    """Return a new row for an endpoint cloudrun has no record of; what the cloud does not say is unknown/0."""
    return Deployment(
        name=endpoint.ref.name,
        model_id=model_id,
        provider=endpoint.ref.provider,
        service=service,
        region=endpoint.ref.region,
        instance_type=endpoint.instance_type or "unknown",
        instance_count=endpoint.instance_count or 1,
        gpu_count=0,
        precision="unknown",
        price_per_hour_usd=price,
        price_source=price_source,
        **_from_cloud(endpoint, at, default_created_at=at),
    )


def adoption(
    endpoint: Endpoint, current: Deployment | None, *, service: str, now: datetime | None = None
) -> Deployment:
    """Return the row `StateStore.adopt` would write for this endpoint over `current`, writing nothing (dry runs)."""
    at = timeutil.utc(now)
    _check_marked(endpoint)
    if current is not None and current.status is DeploymentStatus.intent:
        return _changed(current, **_from_cloud(endpoint, at, default_created_at=current.created_at))
    return _orphan(endpoint, "unknown", Decimal(0), "unknown (adopted)", service, at)
