"""The one validation layer: every value a user hands cloudrun is checked here, typed and bounded, before use.

- flags and file fields: numbers, money, durations, dates, labels (`values`), providers, regions, services and
  account ids (`choices`), each within a bound whose reason is written beside it (`bounds`);
- traffic and hardware for `plan --load` and `compare`: the load string (`load`), the local GPUs and their
  figures (`local_gpu`);
- files (--config, --catalog, --credits): read up to a size cap, decoded strictly, JSON measured for depth before
  it is parsed (`files`); a model's config.json field by field (`model_config`); the catalog's rows
  (cloudrun/catalog.py) and the credit grants (cloudrun/credits/rules.py, the same rule for `--credits FILE` and
  `credits add`) are built from these same checks.

Every refusal is InvalidInput naming the flag, file or field: the CLI exits 2 with one line, and nothing is written.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from cloudrun.inputs import bounds as bounds
from cloudrun.inputs import urls as urls
from cloudrun.inputs.choices import account_options as account_options
from cloudrun.inputs.choices import provider as provider
from cloudrun.inputs.choices import providers as providers
from cloudrun.inputs.choices import region as region
from cloudrun.inputs.choices import services as services
from cloudrun.inputs.values import count as count
from cloudrun.inputs.values import decimal as decimal
from cloudrun.inputs.values import duration as duration
from cloudrun.inputs.values import hours as hours
from cloudrun.inputs.values import label as label
from cloudrun.inputs.values import moment as moment
from cloudrun.inputs.values import parse_duration as parse_duration
from cloudrun.inputs.values import usd as usd
from cloudrun.plain import Limits


def positive(value: float | str | Decimal, flag: str, unit: str) -> Decimal:
    """Return `value` as a positive Decimal at most the money cap (MAX_USD); raise InvalidInput naming `flag`."""
    return decimal(value, flag, unit, high=bounds.MAX_USD)


def optional_positive(value: float | str | Decimal | None, flag: str, unit: str) -> Decimal | None:
    """Return `positive(value, ...)`, or None when the flag was not given."""
    return None if value is None else positive(value, flag, unit)


def limits(
    idle_timeout: str | timedelta | None = None,
    ttl: str | timedelta | None = None,
    max_spend: str | float | Decimal | None = None,
) -> Limits:
    """Return the limits of deploy's --idle-timeout/--ttl/--max-spend (text like 30m, 8h, 20), validated."""
    limits = Limits(duration(idle_timeout, "--idle-timeout"), duration(ttl, "--ttl"), usd(max_spend, "--max-spend"))
    check_limits(limits)
    return limits


def check_limits(limits: Limits) -> None:
    """Raise InvalidInput unless every limit set is within its bounds (a second to a year; up to the money cap)."""
    for flag, value in (("--idle-timeout", limits.idle_timeout), ("--ttl", limits.ttl)):
        if value is not None:
            duration(value, flag)
    if limits.max_spend_usd is not None:
        usd(limits.max_spend_usd, "--max-spend")


__all__ = ["account_options", "bounds", "check_limits", "count", "decimal", "duration", "hours",
           "label", "limits", "moment", "optional_positive", "parse_duration", "positive", "provider", "providers",
           "region", "services", "usd"]  # fmt: skip
