"""Prometheus metrics of what cloudrun runs: `cloudrun metrics`. prometheus-client is imported only here.

Gauges, recomputed from the state store at each scrape (invocation lookups cached for `cache_s`):
deployments up, $/h and cost so far per deployment, its --max-spend cap, this month's spend, minutes
since its last invocation, and, when the credit ledger is there, credit remaining and runway per grant.

Minutes since the last invocation come from `Provider.invocations(ref, since)`, which only counts: the
exporter searches a ladder of windows (1 m ... 24 h) and reports the smallest window with calls (an upper
bound: "called within the last N minutes"); an endpoint not called in its life or in 24 h reports its
time in service (capped at 24 h). Unknown metrics (None) leave the series out, so no alert fires on them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from cloudrun.models import Deployment, DeploymentStatus
from cloudrun.provider import Provider, ProviderLoader
from cloudrun.state import StateStore, limits
from cloudrun.teardown import idle as reaper

LADDER_MINUTES = (1, 5, 15, 30, 60, 180, 360, 720, 1440)
_LABELS = ("name", "provider", "region", "instance_type")



def minutes_since_last_invocation(provider: Provider, row: Deployment, now: datetime) -> float | None:
    """Return an upper bound on the minutes since the endpoint's last call, or None when metrics are unknown."""
    if row.ref is None:
        return None
    in_service = (now - (row.ready_at or row.created_at)).total_seconds() / 60
    ladder = [m for m in LADDER_MINUTES if m < in_service] + [min(in_service, LADDER_MINUTES[-1])]
    low, high, found = 0, len(ladder) - 1, None
    while low <= high:  # the count only grows with the window: binary search for the smallest with calls
        middle = (low + high) // 2
        count = provider.invocations(row.ref, now - timedelta(minutes=ladder[middle]))
        if count is None:
            return None
        if count > 0:
            found, high = ladder[middle], middle - 1
        else:
            low = middle + 1
    return float(found if found is not None else ladder[-1])


class CloudrunCollector:
    """A prometheus-client collector reading cloudrun's state (opened in the scrape thread) at each scrape."""

    def __init__(self, open_state: Callable[[], StateStore], load_provider: ProviderLoader, *, cache_s: float = 60.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:  # fmt: skip
        self._open_state, self._load, self._cache_s, self._clock = open_state, load_provider, cache_s, clock
        self._idle_cache: dict[str, tuple[float, float | None]] = {}

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        now = self._clock()
        with self._open_state() as state:
            rows = [row for row in state.list() if row.status.billable]
            caps = limits.all_limits(state)
            month = reaper.month_to_date_usd(state.list(include_deleted=True), now)
            balances = _ledger_balances(state, now)
        gauge = GaugeMetricFamily
        up = gauge("cloudrun_deployments_up", "Deployments in service.")
        up.add_metric([], sum(row.status is DeploymentStatus.in_service for row in rows))
        per = {
            "up": gauge("cloudrun_deployment_up", "1 when the deployment is in service, else 0.", labels=_LABELS),
            "price": gauge("cloudrun_deployment_price_usd_per_hour", "List price, USD per hour.", labels=_LABELS),
            "cost": gauge("cloudrun_deployment_cost_usd", "Cost so far at list price, USD.", labels=_LABELS),
            "cap": gauge("cloudrun_deployment_max_spend_usd", "Its --max-spend cap, USD.", labels=["name"]),
            "idle": gauge("cloudrun_deployment_minutes_since_last_invocation",
                          "Minutes since the last invocation (upper bound, ladder resolution).", labels=["name"]),
        }  # fmt: skip
        for row in rows:
            self._add_row(per, row, caps.get(row.name), now)
        month_cost = gauge("cloudrun_month_cost_usd", "Spend this calendar month (UTC) at list price, USD.")
        month_cost.add_metric([], float(month))
        yield from (up, *per.values(), month_cost, *_credit_families(balances, now))

    def _add_row(self, per: dict[str, Any], row: Deployment, cap: limits.Limits | None, now: datetime) -> None:
        labels = [row.name, row.provider, row.region, row.instance_type]
        per["up"].add_metric(labels, 1.0 if row.status is DeploymentStatus.in_service else 0.0)
        per["price"].add_metric(labels, float(row.price_per_hour_usd))
        per["cost"].add_metric(labels, float(row.cost_so_far(now)))
        if cap is not None and cap.max_spend_usd is not None:
            per["cap"].add_metric([row.name], float(cap.max_spend_usd))
        if row.status is DeploymentStatus.in_service:
            minutes = self._minutes_idle(row, now)
            if minutes is not None:
                per["idle"].add_metric([row.name], minutes)

    def _minutes_idle(self, row: Deployment, now: datetime) -> float | None:
        cached = self._idle_cache.get(row.name)
        if cached is not None and time.monotonic() - cached[0] < self._cache_s:
            return cached[1]
        try:
            minutes = minutes_since_last_invocation(self._load(row.provider), row, now)
        except Exception:  # noqa: BLE001 - a scrape must not fail for one endpoint; the series is left out
            minutes = None
        self._idle_cache[row.name] = (time.monotonic(), minutes)
        return minutes


def _ledger_balances(state: StateStore, now: datetime) -> list[Any]:
    """Return the credit ledger's balances when cloudrun.credits.ledger is there, else none."""
    try:
        from cloudrun.credits import ledger
    except ImportError:  # the credit ledger is optional to the exporter
        return []
    if not hasattr(ledger, "Ledger"):
        return []
    with contextlib.suppress(Exception):  # a broken ledger must not take the deployment metrics down
        return list(ledger.Ledger(state).balances(now))
    return []


def _credit_families(balances: list[Any], now: datetime) -> list[Any]:
    from prometheus_client.core import GaugeMetricFamily

    labels = ["grant", "provider"]
    remaining = GaugeMetricFamily("cloudrun_credit_remaining_usd", "Credit left per grant, USD.", labels=labels)
    runway = GaugeMetricFamily(
        "cloudrun_credit_runway_hours", "Hours until the grant stops paying: expiry or burn, the sooner.", labels=labels
    )
    for balance in balances:
        grant = balance.grant
        remaining.add_metric([grant.name, grant.provider], float(balance.remaining_usd))
        hours = max(0.0, (balance.runs_out_at - now).total_seconds() / 3600)
        runway.add_metric([grant.name, grant.provider], hours)
    return [remaining, runway]


def exposition(collector: CloudrunCollector) -> str:
    """Return the metrics as Prometheus text exposition (what a scrape of `cloudrun metrics` gets)."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)  # type: ignore[arg-type]
    return generate_latest(registry).decode()


def serve(collector: CloudrunCollector, port: int, address: str = "127.0.0.1") -> Any:
    """Start serving /metrics on address:port in a background thread; return the server."""
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)  # type: ignore[arg-type]
    return start_http_server(port, addr=address, registry=registry)
