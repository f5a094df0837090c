"""Total cost of ownership over months: buying GPUs to run locally vs renting endpoints, for the same load. Pure.

Local, month m (cash basis): the boxes bought at month 0 + power (watts x 730 h x $/kWh each month) + upkeep.
Depreciation is straight-line from the price to the residual value over the horizon; "net of resale" subtracts
the residual value at the end. Cloud, month m: the replicas' hourly price x 730 h x m, less what credits pay by
then (cloudrun.credits.spend, soonest-expiring first, each grant only until it expires). The break-even month is
the first month whose cumulative local cash cost is at most the cloud line's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from cloudrun.credits import spend
from cloudrun.plain import CreditGrant

HOURS_PER_MONTH = Decimal(730)  # 8,760 hours a year / 12
# A server's CPUs, memory, fans and power-supply losses beside its GPUs: an assumption (a dual-socket GPU server's
# host draws a few hundred watts); --power-w replaces the whole figure with the user's own.
HOST_POWER_W = 300


@dataclass(frozen=True)
class LocalCosts:
    """What owning the hardware costs: bought once, then power and upkeep every month."""

    boxes: int
    hardware_usd: Decimal  # per box
    power_w: Decimal  # per box, drawn around the clock
    kwh_usd: Decimal
    upkeep_usd_per_year: Decimal  # per box
    residual_pct: Decimal  # resale value at the end of the horizon, % of the price

    @property
    def power_usd_per_month(self) -> Decimal:
        return self.boxes * self.power_w / 1000 * HOURS_PER_MONTH * self.kwh_usd

    @property
    def upkeep_usd_per_month(self) -> Decimal:
        return self.boxes * self.upkeep_usd_per_year / 12

    def cumulative(self, month: int) -> Decimal:
        """Return the cash spent by the end of `month` (0: the purchase alone)."""
        return self.boxes * self.hardware_usd + (self.power_usd_per_month + self.upkeep_usd_per_month) * month

    def residual_usd(self) -> Decimal:
        return self.boxes * self.hardware_usd * self.residual_pct / 100

    def depreciation_usd_per_year(self, months: int) -> Decimal:
        return (self.boxes * self.hardware_usd - self.residual_usd()) / (Decimal(months) / 12)


@dataclass(frozen=True)
class CloudCosts:
    """Renting `replicas` endpoint instances at `price_per_hour_usd` each, credits applied as they can pay."""

    label: str
    where: str
    replicas: int
    price_per_hour_usd: Decimal
    grants: tuple[CreditGrant, ...]  # usable for this offer, soonest-expiring first
    start: datetime

    @property
    def hourly_usd(self) -> Decimal:
        return self.price_per_hour_usd * self.replicas

    def cumulative(self, month: int) -> Decimal:
        """Return what you have paid by the end of `month`, after credits."""
        hours = HOURS_PER_MONTH * month
        applied, _ = spend(self.hourly_usd, hours, self.grants, self.start) if self.grants else (Decimal(0), ())
        return self.hourly_usd * hours - applied


@dataclass(frozen=True)
class Line:
    label: str
    where: str
    monthly_cumulative_usd: tuple[Decimal, ...]  # index = month, 0 to the horizon
    break_even_month: int | None  # first month local is no dearer than this line (None: not within the horizon)


def lines(local: LocalCosts, clouds: Sequence[CloudCosts], months: int) -> list[Line]:
    """Return the local line and each cloud line, month by month, with the break-even month against local."""
    local_series = tuple(local.cumulative(m) for m in range(months + 1))
    result = [Line("local", "your hardware", local_series, None)]
    for cloud in clouds:
        series = tuple(cloud.cumulative(m) for m in range(months + 1))
        even = next((m for m in range(months + 1) if local_series[m] <= series[m]), None)
        result.append(Line(cloud.label, cloud.where, series, even))
    return result
