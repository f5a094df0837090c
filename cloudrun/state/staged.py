"""The staged weights cloudrun copied (`cloudrun stage`): one row per copy, kept after `stage rm` with its removal
time, so `status` can count what storage bills each month and `deploy` knows where a model is staged.

The cloud is the source of truth (a deploy checks the manifest in the bucket before loading from it); these rows
are what this machine staged or saw, so a deploy does not list every bucket first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from cloudrun import timeutil
from cloudrun.state import StateStore


@dataclass(frozen=True)
class StagedCopy:
    """One staged copy of a model: where, which commit, how many bytes."""

    uri: str
    provider: str
    region: str
    model_id: str
    revision: str
    total_bytes: int
    files: int
    staged_at: datetime
    removed_at: datetime | None = None


def record(state: StateStore, copy: StagedCopy) -> None:
    """Store (or refresh) the row of a complete staged copy; the event log says so."""
    from cloudrun.state.schema import events, staged_weights

    values = {"provider": copy.provider, "region": copy.region, "model_id": copy.model_id, "revision": copy.revision,
              "total_bytes": copy.total_bytes, "files": copy.files, "staged_at": timeutil.iso(copy.staged_at),
              "removed_at": None}  # fmt: skip
    with state.transaction() as conn:  # one write transaction: a copy staged again replaces its row
        conn.execute(staged_weights.delete().where(staged_weights.c.uri == copy.uri))
        conn.execute(staged_weights.insert().values(uri=copy.uri, **values))
        conn.execute(events.insert().values(name=copy.model_id, at=timeutil.iso(datetime.now(timezone.utc)),
                                            kind="staged", detail=f"{copy.total_bytes} bytes at {copy.uri}"))


def mark_removed(state: StateStore, provider: str, region: str, model_id: str) -> int:
    """Mark every live copy of the model at (provider, region) removed; return how many rows changed."""
    from cloudrun.state.schema import events, staged_weights

    now = timeutil.iso(datetime.now(timezone.utc))
    table = staged_weights.c
    with state.transaction() as conn:
        changed = conn.execute(
            staged_weights.update()
            .where(table.provider == provider, table.region == region, table.model_id == model_id,
                   table.removed_at.is_(None))
            .values(removed_at=now)
        ).rowcount  # fmt: skip
        if changed:
            conn.execute(events.insert().values(name=model_id, at=now, kind="unstaged",
                                                detail=f"removed from {provider} {region}"))  # fmt: skip
    return changed


def copies(state: StateStore, *, include_removed: bool = False) -> list[StagedCopy]:
    """Return the staged copies, newest first; removed ones only with `include_removed`."""
    import sqlalchemy as sa

    from cloudrun.state.schema import staged_weights

    with state.reading() as conn:
        rows = conn.execute(sa.select(staged_weights).order_by(staged_weights.c.staged_at.desc())).mappings().all()
    found = [StagedCopy(uri=r["uri"], provider=r["provider"], region=r["region"], model_id=r["model_id"],
                        revision=r["revision"], total_bytes=int(r["total_bytes"]), files=int(r["files"]),
                        staged_at=datetime.fromisoformat(r["staged_at"]),
                        removed_at=datetime.fromisoformat(r["removed_at"]) if r["removed_at"] else None)
             for r in rows]  # fmt: skip
    return [c for c in found if include_removed or c.removed_at is None]


def find(state: StateStore, provider: str, region: str, model_id: str) -> StagedCopy | None:
    """Return the newest live copy of the model at (provider, region), or None."""
    return next((c for c in copies(state) if (c.provider, c.region, c.model_id.lower()) ==
                 (provider, region, model_id.lower())), None)  # fmt: skip
