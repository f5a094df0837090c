"""Numbers, money, durations, dates and labels, from flags and files: typed and bounded (cloudrun/inputs/bounds.py).

Every refusal is InvalidInput naming the flag or field, so the CLI exits 2 with one line and nothing is written.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

from cloudrun.errors import InvalidInput
from cloudrun.inputs import bounds

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"([0-9]{1,12}(?:\.[0-9]{1,9})?)([smhd])")
_DURATION_HINT = "use a positive number and a unit: 90s, 30m, 8h or 2d"


def decimal(value: object, what: str, unit: str, *, high: Decimal) -> Decimal:
    """Return `value` as a finite Decimal above zero and at most `high`.

    Raise InvalidInput naming `what` and its `unit` otherwise. Text must be ASCII: a full-width '５' is not a number.
    """
    number = as_decimal(value)
    if number is None:
        raise InvalidInput(f"{what} {_shown(value)} is not a number of {unit}")
    if number <= 0:
        raise InvalidInput(f"{what} must be a positive number of {unit}, not {_shown(value)}")
    if number > high:
        raise InvalidInput(f"{what} {_shown(value)} is more than {high:,} {unit}",
                           hint=f"give {what} at most {high:,} {unit}")  # fmt: skip
    return number


def as_decimal(value: object) -> Decimal | None:
    """Return a finite Decimal for an int, float, Decimal or ASCII number text; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text.isascii() or len(text) > 64:
            return None
        value = text
    elif not isinstance(value, (int, float, Decimal)):
        return None
    try:
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def count(value: object, what: str, low: int, high: int, unit: str = "") -> int:
    """Return `value` as a whole number from `low` to `high`; refuse a bool, a float, text and anything else."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        unit = f" {unit}" if unit else ""
        raise InvalidInput(f"{what} must be a whole number from {low:,} to {high:,}{unit}, not {_shown(value)}")
    return value


def hours(value: float | str | Decimal) -> Decimal:
    """Return a positive number of hours, at most a year (--hours)."""
    return decimal(value, "--hours", "hours", high=bounds.MAX_HOURS)


def usd(value: object, flag: str) -> Decimal | None:
    """Return a positive USD amount from a flag, at most the money cap; None when not given."""
    return None if value is None else decimal(value, flag, "USD", high=bounds.MAX_USD)


def duration(value: str | timedelta | None, flag: str = "duration") -> timedelta | None:
    """Return a duration like 30m, 8h or 2d (or a timedelta, checked the same way), or None when not given."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        return _bounded_duration(value, flag, str(value))
    return parse_duration(value, flag)


def parse_duration(text: str, flag: str = "duration") -> timedelta:
    """Return the timedelta of '90s', '30m', '8h' or '2d', from a second to a year; raise InvalidInput otherwise."""
    match = _DURATION.fullmatch(text.strip().lower()) if isinstance(text, str) and len(text) < 64 else None
    if not match or Decimal(match[1]) <= 0:
        raise InvalidInput(f"{_shown(text)} is not a duration", hint=_DURATION_HINT)
    seconds = Decimal(match[1]) * _UNITS[match[2]]
    if seconds > int(bounds.MAX_DURATION.total_seconds()):
        raise InvalidInput(f"{flag} {text} is longer than a year", hint="give at most 366d")
    return _bounded_duration(timedelta(seconds=float(seconds)), flag, text)


def _bounded_duration(value: timedelta, flag: str, shown: str) -> timedelta:
    if value < bounds.MIN_DURATION:
        raise InvalidInput(f"{flag} {shown} is shorter than a second", hint=_DURATION_HINT)
    if value > bounds.MAX_DURATION:
        raise InvalidInput(f"{flag} {shown} is longer than a year", hint="give at most 366d")
    return value


def moment(value: object, where: str) -> datetime:
    """Return an aware UTC datetime from ISO 8601 text (a date alone is midnight UTC, no zone is UTC), 2000-2099."""
    example = "e.g. 2026-12-31 or 2026-12-31T00:00:00Z"
    if not isinstance(value, str) or len(value) > 64:
        raise InvalidInput(f"{where}: {_shown(value)} is not an ISO 8601 date, {example}")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{where}: {_shown(value)} is not an ISO 8601 date, {example}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    # Checked before the shift to UTC: at the calendar's edges (year 1 or 9999) an offset overflows.
    if not bounds.EARLIEST.year <= parsed.year < bounds.LATEST.year:
        raise InvalidInput(f"{where}: {value} is not between {bounds.EARLIEST:%Y} and {bounds.LATEST:%Y}")
    return parsed.astimezone(timezone.utc)


def label(value: object, what: str, limit: int = bounds.MAX_LABEL_CHARS) -> str:
    """Return a name or label: text of 1 to `limit` printable characters, as given (surrounding spaces removed)."""
    text = value.strip() if isinstance(value, str) else None
    if not text or len(text) > limit or not text.isprintable():
        raise InvalidInput(f"{what} must be 1 to {limit} printable characters, not {_shown(value)}")
    return text


def _shown(value: object) -> str:
    """Return a value for a message: quoted, escaped, and cut short (so a message stays one short line)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
