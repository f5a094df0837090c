"""The staged weights cloudrun copied (`cloudrun stage`): one row per copy, kept after `stage rm` with its removal
time, so `status` can count what storage bills each month and `deploy` knows where a model is staged.

The cloud is the source of truth (a deploy checks the manifest in the bucket before loading from it); these rows
are what this machine staged or saw, so a deploy does not list every bucket first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

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
    with state.transaction() as conn:
        conn.execute(
            "INSERT OR REPLACE INTO staged_weights (uri, provider, region, model_id, revision, total_bytes, files,"
            " staged_at, removed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            (copy.uri, copy.provider, copy.region, copy.model_id, copy.revision, copy.total_bytes, copy.files,
             _text(copy.staged_at)),
        )  # fmt: skip
        conn.execute("INSERT INTO events (name, at, kind, detail) VALUES (?, ?, 'staged', ?)",
                     (copy.model_id, _text(datetime.now(timezone.utc)), f"{copy.total_bytes} bytes at {copy.uri}"))


def mark_removed(state: StateStore, provider: str, region: str, model_id: str) -> int:
    """Mark every live copy of the model at (provider, region) removed; return how many rows changed."""
    now = _text(datetime.now(timezone.utc))
    with state.transaction() as conn:
        changed = conn.execute(
            "UPDATE staged_weights SET removed_at = ? WHERE provider = ? AND region = ? AND model_id = ?"
            " AND removed_at IS NULL", (now, provider, region, model_id),
        ).rowcount  # fmt: skip
        if changed:
            conn.execute("INSERT INTO events (name, at, kind, detail) VALUES (?, ?, 'unstaged', ?)",
                         (model_id, now, f"removed from {provider} {region}"))  # fmt: skip
    return changed


def copies(state: StateStore, *, include_removed: bool = False) -> list[StagedCopy]:
    """Return the staged copies, newest first; removed ones only with `include_removed`."""
    with state.transaction() as conn:
        rows = conn.execute("SELECT * FROM staged_weights ORDER BY staged_at DESC").fetchall()
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


def _text(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")
