"""Numbers from flags and files: one way to read a positive amount (hours, USD, USD per hour) or a duration.

Every refusal is InvalidInput naming the flag, so the CLI exits 2 with one line and nothing is written.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from cloudrun.errors import InvalidInput
from cloudrun.models import Limits

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")


def positive(value: float | str | Decimal, flag: str, unit: str) -> Decimal:
    """Return `value` as a positive, finite Decimal; raise InvalidInput naming `flag` and its `unit` otherwise."""
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise InvalidInput(f"{flag} {value!r} is not a number of {unit}") from exc
    if not number.is_finite() or number <= 0:
        raise InvalidInput(f"{flag} must be a positive number of {unit}, not {value}")
    return number


def optional_positive(value: float | str | Decimal | None, flag: str, unit: str) -> Decimal | None:
    """Return `positive(value, ...)`, or None when the flag was not given."""
    return None if value is None else positive(value, flag, unit)


def hours(value: float | str | Decimal) -> Decimal:
    """Return a positive number of hours (--hours)."""
    return positive(value, "--hours", "hours")


def usd(value: float | str | Decimal | None, flag: str) -> Decimal | None:
    """Return a positive USD amount from a flag, or None when not given."""
    return optional_positive(value, flag, "USD")


def duration(value: str | timedelta | None) -> timedelta | None:
    """Return a positive duration like 30m, 8h or 2d (or a timedelta as given), or None when not given."""
    if value is None or isinstance(value, timedelta):
        return value
    return parse_duration(value)


def parse_duration(text: str) -> timedelta:
    """Return the timedelta of '90s', '30m', '8h' or '2d'; raise InvalidInput on anything else."""
    match = _DURATION.match(text.strip().lower()) if isinstance(text, str) else None
    if not match or float(match[1]) <= 0:
        raise InvalidInput(f"{text!r} is not a duration", hint="use a positive number and a unit: 90s, 30m, 8h or 2d")
    return timedelta(seconds=float(match[1]) * _UNITS[match[2]])


def limits(
    idle_timeout: str | timedelta | None = None,
    ttl: str | timedelta | None = None,
    max_spend: str | float | Decimal | None = None,
) -> Limits:
    """Return the limits of deploy's --idle-timeout/--ttl/--max-spend (text like 30m, 8h, 20), validated."""
    limits = Limits(duration(idle_timeout), duration(ttl), usd(max_spend, "--max-spend"))
    check_limits(limits)
    return limits


def check_limits(limits: Limits) -> None:
    """Raise InvalidInput unless every limit set is positive."""
    for flag, value in (("--idle-timeout", limits.idle_timeout), ("--ttl", limits.ttl)):
        if value is not None and value <= timedelta(0):
            raise InvalidInput(f"{flag} must be a positive duration, not {value}", hint="e.g. 30m, 8h or 2d")
    if limits.max_spend_usd is not None and (not limits.max_spend_usd.is_finite() or limits.max_spend_usd <= 0):
        raise InvalidInput(f"--max-spend must be a positive number of USD, not {limits.max_spend_usd}")
