"""Turn ledger balances, presets and sync results into JSON documents and rich tables. Only the CLI calls this."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.markup import escape

from cloudrun.cli import tables
from cloudrun.cli.plan_json import money
from cloudrun.credits.ledger import Balance, LedgerGrant
from cloudrun.credits.presets import PRESETS
from cloudrun.credits.sync import SyncResult


def gpu_note(grant: LedgerGrant) -> str:
    """Return, in the user's words, whether and why this credit can pay for a GPU endpoint."""
    if grant.gpu_eligible:
        return "pays for GPU endpoints"
    preset = PRESETS.get(grant.preset or "")
    if preset is not None and preset.gpu_unlock == "upgraded":
        return "no GPUs until the account is upgraded (re-add it with --upgraded once upgraded)"
    return "not counted for GPUs (unverified): re-add it with --gpu-eligible if it pays for GPU endpoints"


def _hours_between(start: datetime, end: datetime) -> float:
    return round(max(0.0, (end - start).total_seconds() / 3600), 2)


def balance_json(b: Balance, now: datetime) -> dict[str, Any]:
    g = b.grant
    usable = g.gpu_eligible and b.ends_by not in ("expired", "spent")
    return {
        "id": g.id, "name": g.name, "provider": g.provider, "account": g.account, "services": list(g.services),
        "source": g.source, "preset": g.preset, "amount_usd": money(g.amount_usd), "currency": g.currency,
        "remaining_usd": money(b.remaining_usd), "remaining_basis": b.basis,
        "estimated_charges_usd": money(b.charges_usd), "stale": b.stale_reason is not None,
        "stale_reason": b.stale_reason, "starts_at": g.starts_at.isoformat(), "expires_at": b.expires_at.isoformat(),
        "gpu_eligible": g.gpu_eligible, "pays_for_gpu": usable, "gpu_note": gpu_note(g),
        "burn_usd_per_hour": money(b.burn_usd_per_hour),
        "burn_by_owner": {owner: money(rate) for owner, rate in b.burn_by_owner.items()},
        "runway_hours": round(float(b.runway_hours), 2) if b.runway_hours is not None else None,
        "runs_out_at": b.runs_out_at.isoformat(), "ends_by": b.ends_by,
        "usable_for_hours": _hours_between(now, b.runs_out_at),
        "available_for_new_usd": money(b.available_usd), "notes": g.notes,
    }  # fmt: skip


def ledger_json(balances: Sequence[Balance], now: datetime) -> dict[str, Any]:
    return {"as_of": now.isoformat(), "grants": [balance_json(b, now) for b in balances], "total": _total(balances)}


def _total(balances: Sequence[Balance]) -> dict[str, float]:
    live = [b for b in balances if b.ends_by not in ("expired", "spent")]
    return {
        "remaining_usd": money(sum((b.remaining_usd for b in live), Decimal(0))),
        "gpu_eligible_remaining_usd": money(sum((b.remaining_usd for b in live if b.grant.gpu_eligible), Decimal(0))),
        "burn_usd_per_hour": money(sum((b.burn_usd_per_hour for b in live), Decimal(0))),
        "available_for_new_usd": money(sum((b.available_usd for b in live), Decimal(0))),
    }


LEDGER_COLUMNS = (
    tables.Column("credit"), tables.Column("provider", 3), tables.Column("remaining", right=True),
    tables.Column("expires"), tables.Column("GPU?", 2), tables.Column("burn $/h", 4, right=True),
    tables.Column("runway", 1, right=True), tables.Column("runs out", 5), tables.Column("basis", 6),
)  # fmt: skip


def print_ledger(console: Console, balances: Sequence[Balance], now: datetime) -> None:
    if not balances:
        console.print("No credit in the ledger. Add some: `cloudrun credits add --preset gcp-free-trial --starts DATE`")
        return
    cells, styles = [], []
    for b in balances:
        ends = {"burn": "burn", "expiry": "expiry"}.get(b.ends_by, b.ends_by)
        cells.append([b.grant.name, b.grant.provider, f"${b.remaining_usd:,.2f}", f"{b.expires_at:%Y-%m-%d}",
                      "yes" if b.grant.gpu_eligible else "no", f"{b.burn_usd_per_hour:,.3f}",
                      f"{b.runway_hours:,.1f} h" if b.runway_hours is not None else "-",
                      f"{b.runs_out_at:%Y-%m-%d %H:%M} ({ends})",
                      b.basis + (f" (stale: {b.stale_reason})" if b.stale_reason else "")])  # fmt: skip
        styles.append("dim" if b.ends_by in ("expired", "spent") else None)
    console.print(tables.fitted(console, LEDGER_COLUMNS, cells, styles=styles)[0])
    total = _total(balances)
    console.print(
        f"[bold]Total:[/bold] ${total['remaining_usd']:,.2f} left (${total['gpu_eligible_remaining_usd']:,.2f} can "
        f"pay for GPUs), burning ${total['burn_usd_per_hour']:,.3f}/h; ${total['available_for_new_usd']:,.2f} "
        "left for new deployments after running ones burn until expiry",
        highlight=False,
    )
    for b in balances:
        if not b.grant.gpu_eligible:
            console.print(f"  {b.grant.name}: {gpu_note(b.grant)}", highlight=False, markup=False)
    for b in balances:  # a team's database: whose deployments burn it (one owner alone needs no line)
        if len(b.burn_by_owner) > 1:
            split = ", ".join(f"{owner} ${rate:,.3f}/h" for owner, rate in b.burn_by_owner.items())
            console.print(f"  {b.grant.name} burn by owner: {split}", highlight=False, markup=False)


def sync_json(results: Sequence[SyncResult]) -> list[dict[str, Any]]:
    return [
        {"provider": r.provider, "source": r.source, "grant": r.grant,
         "remaining_usd": money(r.remaining_usd) if r.remaining_usd is not None else None,
         "stale": r.stale_reason is not None, "stale_reason": r.stale_reason, "note": r.note}
        for r in results
    ]  # fmt: skip


def print_sync(console: Console, results: Sequence[SyncResult]) -> None:
    for r in results:
        what = f"${r.remaining_usd:,.2f} left" if r.remaining_usd is not None else "no balance read"
        line = f"{r.provider} {r.source}: {r.grant or '(no credit)'}: {what}"
        if r.stale_reason:
            line += f" [yellow]stale: {escape(r.stale_reason)}[/yellow]"
        console.print(line + (f" ({escape(r.note)})" if r.note else ""), highlight=False)


def print_presets(console: Console) -> None:
    for preset in PRESETS.values():
        amount = f"${preset.amount_usd}" if preset.amount_usd is not None else "--amount"
        console.print(f"[bold]{preset.name}[/bold] ({preset.title}, {preset.provider}, {amount})", highlight=False)
        for rule in preset.rules:
            mark = "verified" if rule.verified else "[yellow]unverified[/yellow]"
            console.print(f"  {mark}: {rule.text} ({rule.note})", highlight=False)
