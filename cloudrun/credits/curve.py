"""The credit a run gets, as a function of its price: built once per class of offers, read in O(log grants) each.

Every offer of one provider and service is paid by the same grants in the same order (rules.usable_grants), over the
same hours from the same moment. For such a class, `rules.spend`'s greedy rule (soonest-expiring grant first, each
until it is spent or expires) covers, at price p, the hours

    c(p) = min over k = 0..n of  E_k + (a_{k+1} + ... + a_n) / p        (E_0 = 0)

where grant k (in spending order) pays for usage up to E_k = min(hours, its expiry) and holds a_k: grant k' > k are
spent in full after the last grant whose expiry stopped it. The credit applied is p x c(p), the lower envelope of the
lines  y = E_k x p + (a_{k+1} + ... + a_n),  built once per class (monotone chain: slopes E_k only grow) and read by
binary search. So a plan costs rows x log(grants), not rows x grants, and the figure is the exact optimum: the same
number the greedy walk gives, rounded to the micro-dollar once (tests/test_credit_curve.py checks it against the
walk). Which grants pay, and how much each, is worked out by the walk only when asked (an option shown in detail).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from cloudrun.plain import CreditGrant, CreditUse

_SECONDS_PER_HOUR = Decimal(3600)
MICRO_USD = Decimal("0.000001")
_ZERO = Decimal(0)


def payable_hours(grant: CreditGrant, hours: Decimal, now: datetime) -> Decimal:
    """Return the hours of a run starting `now` that `grant` may pay for: up to `hours`, and only before it expires."""
    until_expiry = Decimal((grant.expires_at - now).total_seconds()) / _SECONDS_PER_HOUR
    return max(_ZERO, min(hours, until_expiry))


def walk(price: Decimal, hours: Decimal, ordered: Sequence[CreditGrant], now: datetime) -> tuple[CreditUse, ...]:
    """Return what each grant of `ordered` (usable grants, soonest-expiring first) pays for the run, exactly.

    Usage is paid in time order by the soonest-expiring grant that still has balance; a grant covers usage only up
    to its expiry. Because grants are taken in expiry order, the covered time only moves forward and this greedy
    order spends the most credit that can be spent. Amounts are exact (not rounded), so they add up to the curve's.
    """
    if price <= 0:
        return ()
    covered = _ZERO  # hours of the run already paid for by credit
    uses: list[CreditUse] = []
    for grant in ordered:
        payable = payable_hours(grant, hours, now) - covered
        if payable <= 0 or grant.amount_usd <= 0:
            continue
        amount = min(grant.amount_usd, price * payable)
        paid_hours = payable if amount < grant.amount_usd else grant.amount_usd / price
        uses.append(CreditUse(grant=grant.name, amount_usd=amount, hours=paid_hours))
        covered += paid_hours
        if covered >= hours:
            break
    return tuple(uses)


def rounded(uses: Sequence[CreditUse]) -> tuple[CreditUse, ...]:
    """Return the uses with each amount rounded to the micro-dollar, for showing."""
    return tuple(CreditUse(u.grant, u.amount_usd.quantize(MICRO_USD), u.hours) for u in uses)


class CreditCurve:
    """The credit applied to `hours` of a run from `now`, as a function of price, for one class of offers."""

    __slots__ = ("_hours", "_lines", "_now", "_ordered")

    def __init__(self, ordered: Sequence[CreditGrant], hours: Decimal, now: datetime) -> None:
        self._ordered, self._hours, self._now = tuple(ordered), hours, now
        amounts = [max(_ZERO, g.amount_usd) for g in self._ordered]
        after = sum(amounts, _ZERO)  # a_{k+1} + ... + a_n, from k = 0
        lines = [(_ZERO, after)]
        for grant, amount in zip(self._ordered, amounts, strict=True):
            after -= amount
            lines.append((payable_hours(grant, hours, now), after))
        self._lines = _lower_envelope(lines)

    def applied(self, price: Decimal) -> Decimal:
        """Return the credit (USD, rounded to the micro-dollar) that pays for the run at `price` per hour."""
        if price <= 0 or not self._ordered:
            return _ZERO
        lines = self._lines
        lo, hi = 0, len(lines) - 1  # the envelope's lines are best in turn as the price grows: find the best one
        while lo < hi:
            mid = (lo + hi) // 2
            if _value(lines[mid + 1], price) <= _value(lines[mid], price):
                lo = mid + 1
            else:
                hi = mid
        return _value(lines[lo], price).quantize(MICRO_USD)

    def uses(self, price: Decimal) -> tuple[CreditUse, ...]:
        """Return which grants pay at `price`, and how much each (rounded to the micro-dollar), soonest first."""
        return rounded(walk(price, self._hours, self._ordered, self._now))


def _value(line: tuple[Decimal, Decimal], price: Decimal) -> Decimal:
    slope, intercept = line
    return slope * price + intercept


def _lower_envelope(lines: list[tuple[Decimal, Decimal]]) -> list[tuple[Decimal, Decimal]]:
    """Return the lines that are lowest somewhere on price > 0, in the order they are (steepest first).

    `lines` come with slopes non-decreasing and intercepts non-increasing (k grows); the envelope's lines, taken
    steepest first, are best from the lowest price up.
    """
    hull: list[tuple[Decimal, Decimal]] = []
    for slope, intercept in reversed(lines):  # steepest first
        if hull and hull[-1][0] == slope:
            if hull[-1][1] <= intercept:
                continue  # parallel and not lower: never best
            hull.pop()
        while len(hull) >= 2 and _useless(hull[-2], hull[-1], (slope, intercept)):
            hull.pop()
        hull.append((slope, intercept))
    return hull


def _useless(first: tuple[Decimal, Decimal], middle: tuple[Decimal, Decimal], last: tuple[Decimal, Decimal]) -> bool:
    """Whether `middle` is nowhere strictly below both others (slopes strictly falling from first to last)."""
    (m1, b1), (m2, b2), (m3, b3) = first, middle, last
    # middle is useless when last overtakes first no later than middle does: x13 <= x12, cross-multiplied
    return (b3 - b1) * (m1 - m2) <= (b2 - b1) * (m1 - m3)
