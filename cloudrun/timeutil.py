"""Time as cloudrun keeps it: timezone-aware UTC, stored as fixed-width ISO 8601 text."""

from __future__ import annotations

from datetime import datetime, timezone


def utc(moment: datetime | None) -> datetime:
    """Return `moment` (default: now) as an aware UTC datetime; a naive datetime is refused."""
    if moment is None:
        return datetime.now(timezone.utc)
    if moment.utcoffset() is None:
        raise ValueError(f"{moment} has no time zone: cloudrun keeps time as timezone-aware UTC")
    return moment.astimezone(timezone.utc)


def iso(moment: datetime | None) -> str | None:
    """Return the moment as fixed-width ISO 8601 UTC text (so text order is time order), or None."""
    return utc(moment).isoformat(timespec="microseconds") if moment is not None else None


def parse(text: str | None) -> datetime | None:
    """Return the aware UTC datetime stored as ISO 8601 text, or None."""
    return datetime.fromisoformat(text) if text is not None else None
