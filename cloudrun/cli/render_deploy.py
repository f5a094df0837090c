"""Tables, progress and JSON for deploy, status, down, invoke and check. Only the CLI calls this."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.markup import escape

from cloudrun.cli import tables
from cloudrun.cli.plan_json import money
from cloudrun.deployer import DeployResult
from cloudrun.models import CheckResult, Deployment
from cloudrun.teardown.deletion import Removed, describe
from cloudrun.teardown.fleet import ReconcileReport

SPOT_NOTE = "Compute Engine can reclaim spot VMs at any time; Vertex then restarts the deployment, up to six times"


def removed_text(result: Removed, now: datetime) -> str:
    """Return what `down NAME` did, resource by resource: removed, looked for and not found, or nothing found."""
    row, removal = result.deployment, result.removal
    cost = f"cost so far ${row.cost_so_far(now):,.2f}"
    if not removal.removed:
        return f"closed {row.name}: {describe(removal, row)}; {cost}"
    missing = f"; not found: {', '.join(removal.not_found)}" if removal.not_found else ""
    return f"removed {row.name}: {', '.join(removal.removed)}{missing}; {cost}"


def removed_json(result: Removed) -> dict[str, Any]:
    """Return `down NAME --json`: the final row, plus what was removed and what was found already gone."""
    return {**deployment_json(result.deployment), "removed": list(result.removal.removed),
            "not_found": list(result.removal.not_found)}  # fmt: skip


def print_deploy_plan(console: Console, plan: Any) -> None:
    """Show the placement deploy will try first, its cost, and what it falls back to."""
    first = plan.placements[0]
    offer = first.offer
    console.print(
        f"[bold]{plan.name}[/bold]: {plan.plan.need.id} on {offer.service} {offer.region} {offer.instance_type} "
        f"({offer.gpu_count}x {offer.gpu_model}, TP={first.fit.tensor_parallel}) at ${first.price_per_hour_usd}/h; "
        f"{plan.plan.hours} h = ${first.list_cost_usd:,.2f} list, ${first.out_of_pocket_usd:,.2f} after credits",
        highlight=False,
    )
    console.print(f"  price: {offer.source} ({offer.as_of})", highlight=False, markup=False, style="dim")
    how = first.fit.serving
    if how is not None:
        quantized = f", quantized by vLLM to {how.quantization} as it loads" if how.quantization else ""
        console.print(f"  serves {how.checkpoint} as {how.dtype}{quantized}", highlight=False, markup=False)
    for note in [r for r in first.reasons if not r.startswith("fits at")]:
        console.print(f"  note: {note}", style="yellow", highlight=False, markup=False)
    if len(plan.placements) > 1:
        rest = ", ".join(f"{o.offer.region} {o.offer.instance_type}" for o in plan.placements[1:4])
        console.print(f"  on quota or capacity errors, then: {rest}" + (" ..." if len(plan.placements) > 4 else ""))
    for provider, why in plan.skipped.items():
        console.print(f"  skipped {provider}: {why}", style="dim", markup=False)


def print_skipped(console: Console, skipped: Sequence[tuple[str, str]]) -> None:
    """Print the placements a deploy skips before creating anything, once per reason (not once per placement)."""
    grouped: dict[str, list[str]] = {}
    for where, why in skipped:
        grouped.setdefault(why, []).append(where)
    for why, places in grouped.items():
        shown = places[0] if len(places) == 1 else f"{places[0]} and {len(places) - 1} more"
        console.print(f"skipping {shown}: {why}", style="dim", highlight=False, markup=False)


def print_requests(console: Console, requests: Sequence[tuple[str, dict[str, Any]]]) -> None:
    console.print("[bold]Dry run[/bold]: these requests would be sent, in order; nothing was sent.")
    for operation, params in requests:
        console.print(f"[bold]{operation}[/bold]")
        console.print_json(json.dumps(params, default=str))


class Progress:
    """The latest progress line under a spinner while deploy waits; a line is printed when the state changes."""

    def __init__(self, console: Console, status: Any) -> None:
        self._console, self._status, self._last = console, status, ""

    def __call__(self, message: str) -> None:
        self._status.update(message)
        line = message.split(" (", 1)[0]  # print a line when the state changes, not at every poll
        if line != self._last:
            self._last = line
            self._console.print(f"[dim]{datetime.now().strftime('%H:%M:%S')}[/dim] {escape(message)}", highlight=False)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Stop the spinner while the user is asked something."""
        self._status.stop()
        try:
            yield
        finally:
            self._status.start()


@contextmanager
def progress(console: Console) -> Iterator[Progress]:
    """Yield a Progress: call it with each progress message while deploy waits."""
    with console.status("checking credentials and quota ...") as status:
        yield Progress(console, status)


def deployment_json(deployment: Deployment, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(timezone.utc)
    ref = deployment.ref
    return {
        "name": deployment.name,
        "model": deployment.model_id,
        "provider": deployment.provider,
        "service": deployment.service,
        "region": deployment.region,
        "instance_type": deployment.instance_type,
        "spot": deployment.spot,
        "precision": deployment.precision,
        "status": deployment.status.value,
        "price_per_hour_usd": money(deployment.price_per_hour_usd),
        "price_source": deployment.price_source,
        "endpoint": ref.endpoint_id if ref else None,
        "created_at": deployment.created_at.isoformat(),
        "ready_at": deployment.ready_at.isoformat() if deployment.ready_at else None,
        "deleted_at": deployment.deleted_at.isoformat() if deployment.deleted_at else None,
        "time_to_serve_s": None if deployment.ready_at is None else round(
            (deployment.ready_at - deployment.created_at).total_seconds(), 1),  # create -> in service, measured
        "uptime_hours": round(_hours(deployment, now), 4),
        "cost_so_far_usd": round(float(deployment.cost_so_far(now)), 4),
        "adopted": deployment.adopted,
        "owner": deployment.owner,
    }


def report_json(report: ReconcileReport | None) -> dict[str, list[str]] | None:
    if report is None:
        return None
    return {"adopted": report.adopted, "vanished": report.vanished, "updated": report.updated,
            "problems": report.problems, "skipped": report.skipped, "refused": report.refused,
            "waiting": report.waiting, "incomplete": sorted(report.incomplete)}  # fmt: skip


def _hours(deployment: Deployment, now: datetime) -> float:
    end = deployment.deleted_at or now
    return max(0.0, (end - deployment.created_at).total_seconds() / 3600)


def print_deployed(console: Console, result: DeployResult, *, sandbox: bool = False) -> None:
    d = result.deployment
    for notice in result.notices:
        console.print(f"note: {notice}", style="yellow", highlight=False, markup=False)
    for attempt in result.attempts[:-1]:
        console.print(f"tried {attempt.placement}: {attempt.outcome}", style="dim", highlight=False, markup=False)
    spot = f" on spot VMs ({SPOT_NOTE})" if d.spot else ""
    console.print(f"[green]in service[/green]: {d.name} on {d.provider} {d.region} {d.instance_type}{spot} "
                  f"at ${d.price_per_hour_usd}/h (billing until you remove it)", highlight=False)  # fmt: skip
    flag = " --sandbox" if sandbox else ""
    console.print(f'  call it:    cloudrun invoke {d.name} "Hello"{flag}', highlight=False, markup=False)
    console.print(f"  remove it:  cloudrun down {d.name}{flag}", highlight=False, markup=False)


STATUS_COLUMNS = (
    tables.Column("name"), tables.Column("model", 4), tables.Column("where", 3), tables.Column("instance", 1),
    tables.Column("status"), tables.Column("up", 2, right=True), tables.Column("$/h", 2, right=True),
    tables.Column("cost so far", right=True), tables.Column("ready in", 5, right=True),
)  # fmt: skip


def owners(rows: Sequence[Deployment], now: datetime) -> dict[str, tuple[int, Decimal, Decimal]]:
    """Return, per owner ("unknown": none recorded), deployments not yet removed, their $/h, and their cost so far."""
    found: dict[str, tuple[int, Decimal, Decimal]] = {}
    for d in rows:
        if not d.status.live:
            continue
        count, rate, cost = found.get(d.owner or "unknown", (0, Decimal(0), Decimal(0)))
        running_rate = d.price_per_hour_usd if d.status.running else Decimal(0)
        found[d.owner or "unknown"] = (count + 1, rate + running_rate, cost + d.cost_so_far(now))
    return dict(sorted(found.items()))


def owners_json(rows: Sequence[Deployment], now: datetime) -> list[dict[str, Any]]:
    return [{"owner": owner, "deployments": count, "usd_per_hour": money(rate), "cost_so_far_usd": money(cost)}
            for owner, (count, rate, cost) in owners(rows, now).items()]  # fmt: skip


def print_status(
    console: Console, rows: Sequence[Deployment], report: ReconcileReport | None, now: datetime, by_owner: bool = False
) -> None:
    if report:
        for label, names in (("adopted", report.adopted), ("vanished", report.vanished), ("updated", report.updated)):
            if names:
                console.print(f"{label}: {', '.join(names)}")
        for problem in report.problems:
            console.print(f"[yellow]could not check[/yellow] {escape(problem)}", highlight=False)
        for skipped in report.skipped:
            console.print(f"not scanned: {skipped}", style="dim", markup=False)
        for note in report.refused + report.waiting:
            console.print(f"note: {note}", style="yellow", highlight=False, markup=False)
        for name, left in sorted(report.incomplete.items()):
            console.print(
                f"half-made: {name}: {left} (`cloudrun down {name}` removes it)", highlight=False, markup=False
            )
    if not rows:
        console.print("No deployments. `cloudrun plan MODEL` shows where one would run.")
        return
    total = sum((d.cost_so_far(now) for d in rows if d.status.live), Decimal(0))
    cells = [[d.name + (f" ({d.owner or 'unknown'})" if by_owner else ""), d.model_id, f"{d.provider} {d.region}",
              d.instance_type + (" (spot)" if d.spot else ""),
              d.status.value, f"{_hours(d, now):.1f} h", f"{d.price_per_hour_usd:,.3f}",
              f"{d.cost_so_far(now):,.2f}", _ready_in(d)] for d in rows]  # fmt: skip
    table, _ = tables.fitted(console, STATUS_COLUMNS, cells,
                             caption=f"cost so far of deployments not yet removed: ${total:,.2f}")  # fmt: skip
    console.print(table)
    if by_owner:
        for owner, (count, rate, cost) in owners(rows, now).items():
            console.print(f"{owner}: {count} deployment{'s' * (count != 1)}, ${rate:,.3f}/h, ${cost:,.2f} so far",
                          highlight=False, markup=False)  # fmt: skip
    if any(d.spot and d.status.value not in {"deleted", "vanished"} for d in rows):
        console.print(f"(spot) {SPOT_NOTE}", style="yellow", highlight=False, markup=False)


def _ready_in(deployment: Deployment) -> str:
    """Return the measured time from create to in service, e.g. '7m 12s', or '' if it never was in service."""
    if deployment.ready_at is None:
        return ""
    seconds = int((deployment.ready_at - deployment.created_at).total_seconds())
    return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def reply_text(reply: dict[str, Any]) -> str:
    """Return the assistant's text from a chat completion, or the raw JSON if it has another shape."""
    try:
        return str(reply["choices"][0]["message"]["content"])
    except (KeyError, IndexError, TypeError):
        return json.dumps(reply)


def print_checks(console: Console, results: Sequence[CheckResult]) -> None:
    """Print which providers can deploy; then, whole lines a user can copy, what to do for each that cannot."""
    cells = [[r.provider, "yes" if r.sdk_installed else "no", "ok" if r.credentials_ok else "no",
              r.identity or r.detail] for r in results]  # fmt: skip
    columns = (tables.Column("provider"), tables.Column("SDK"), tables.Column("credentials"),
               tables.Column("identity / detail"))  # fmt: skip
    console.print(tables.fitted(console, columns, cells)[0])
    for r in results:
        if r.hint and not r.credentials_ok:
            console.print(f"{r.provider}: {r.hint}", highlight=False, markup=False, soft_wrap=True)
    if not any(r.credentials_ok for r in results):
        console.print("no provider can deploy yet: do one of the above, then run `cloudrun check` again",
                      style="yellow", highlight=False, markup=False)  # fmt: skip
