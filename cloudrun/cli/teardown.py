"""`cloudrun teardown`, `watch`, `metrics`: stop the meter. Thin commands over cloudrun.teardown and exporter."""

from __future__ import annotations

import logging
import sys
import threading
from datetime import datetime

import typer
from rich.console import Console
from rich.markup import escape

from cloudrun import api, debugging, inputs, teardown
from cloudrun.cli import tables
from cloudrun.errors import InvalidInput
from cloudrun.inputs import parse_duration
from cloudrun.state import StateStore
from cloudrun.teardown.idle import Policy
from cloudrun.terminal import (
    DryRunOpt,
    JsonOpt,
    SandboxOpt,
    YesOpt,
    app,
    confirm,
    enter_sandbox,
    errors_to_exit,
    out,
    print_json,
    split_values,
)

ProviderOpt = typer.Option(None, "--provider", help="Only these providers: aws, gcp, azure (repeatable).")
WorkersOpt = typer.Option(teardown.DEFAULT_WORKERS, "--concurrency", help="Deletions at once.")


def _chosen(providers: list[str] | None, workers: int) -> tuple[str, ...] | None:
    """Return the providers of --provider, checked (a typo must not remove nothing and exit 0), and check the
    --concurrency, before anything is asked, opened or removed."""
    inputs.count(workers, "--concurrency", 1, inputs.bounds.MAX_WORKERS, "deletions at once")
    return inputs.providers(split_values(providers))


def _log_to_stderr(log_format: str = "text") -> None:
    """One line per decision on stderr: what journald (systemd) and cron's mail collect; JSON lines with `json`."""
    if debugging.enabled():  # --debug already writes cloudrun's log to stderr: once is enough
        return
    from cloudrun.teardown import service

    handler = logging.StreamHandler(sys.stderr)
    plain = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler.setFormatter(service.JsonLines() if log_format == "json" else plain)
    logger = logging.getLogger("cloudrun.teardown")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    if log_format == "json":  # every stderr line one JSON object: a library's warning too (google.api_core warns
        logging.captureWarnings(True)  # on Python 3.10 as it is imported), through logging's py.warnings logger
        warned = logging.getLogger("py.warnings")
        warned.addHandler(handler)
        warned.propagate = False


REPORT_COLUMNS = (tables.Column("result"), tables.Column("deployment"), tables.Column("where", 1),
                  tables.Column("why"))  # fmt: skip


def _removal(outcome: teardown.Outcome) -> str:
    if outcome.removal is None:
        return ""
    return f" ({', '.join(outcome.removal.removed) or 'nothing was left'})"


def print_report(console: Console, report: teardown.TeardownReport) -> None:
    """Print a table of what was removed, kept (and why), or failed."""
    verb = "would remove" if report.dry_run else "removed"
    cells = [[label, o.name, f"{o.provider} {o.region}", o.reason + _removal(o)]
             for label, outcomes in ((verb, report.deleted), ("kept", report.kept), ("FAILED", report.failed))
             for o in outcomes]  # fmt: skip
    if report.dry_run:
        console.print("dry run: nothing was deleted", style="bold", highlight=False)
    console.print(tables.fitted(console, REPORT_COLUMNS, cells)[0] if cells else "no deployments")
    if report.adopted:
        adopted = "would adopt" if report.dry_run else "adopted"
        console.print(f"{adopted} (tagged, not recorded before): {', '.join(report.adopted)}", highlight=False)
    for note in report.refused + report.waiting:
        console.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False)
    for problem in report.problems:
        console.print(f"[yellow]problem:[/yellow] {escape(problem)}", highlight=False)
    for note in report.skipped:
        console.print(f"skipped (cloudrun has nothing recorded there): {note}", highlight=False, markup=False)
    if report.interrupted:
        console.print("[yellow]interrupted:[/yellow] the deletions under way finished; the rest were not started")


def print_decisions(console: Console, report: teardown.TeardownReport) -> None:
    """Print one line per removal or failure, and one line for the check, as a watch loop should."""
    at = datetime.now().strftime("%H:%M:%S")
    if report.standby:
        console.print(f"{at} standby: {report.standby}", highlight=False, markup=False)
        return
    for label, outcomes in (("removed", report.deleted), ("FAILED to remove", report.failed)):
        for o in outcomes:
            console.print(f"{at} {label} {o.name} ({o.provider} {o.region}): {o.reason}", highlight=False, markup=False)
    console.print(f"{at} checked: {len(report.deleted)} removed, {len(report.kept)} kept, {len(report.failed)} failed"
                  + "".join(f"; problem: {p}" for p in report.problems), highlight=False, markup=False)  # fmt: skip


def exit_code(report: teardown.TeardownReport) -> None:
    """Exit 130 if interrupted, 1 if anything failed or a provider could not be checked; else return."""
    if report.interrupted:
        raise typer.Exit(130)
    if not report.ok:
        raise typer.Exit(1)


@app.command("teardown")
@errors_to_exit
def teardown_command(
    idle: str = typer.Option(..., "--idle", help="Remove endpoints with no invocations for this long, e.g. 30m."),
    provider: list[str] | None = ProviderOpt,
    dry_run: bool = DryRunOpt,
    yes: bool = YesOpt,
    as_json: bool = JsonOpt,
    workers: int = WorkersOpt,
    sandbox: bool = SandboxOpt,
) -> None:
    """Remove idle endpoints: no invocations and in service for at least DURATION (orphans included)."""
    enter_sandbox(sandbox)
    policy = Policy(idle_for=parse_duration(idle, "--idle"))
    chosen = _chosen(provider, workers)
    if not dry_run:
        confirm(f"Remove every endpoint idle for {idle} or more?", yes=yes)
    with StateStore() as state:
        report = api.teardown(state, api.provider_loader(), policy, providers=chosen, dry_run=dry_run,
                              max_workers=workers)  # fmt: skip
    print_json(report.to_json()) if as_json else print_report(out, report)
    exit_code(report)


@app.command()
@errors_to_exit
def watch(
    idle: str | None = typer.Option(None, "--idle", help="Also remove endpoints idle this long, e.g. 30m."),
    interval: str = typer.Option("5m", "--interval", help="Time between checks, e.g. 5m."),
    once: bool = typer.Option(False, "--once", help="Check once and exit (for cron or a systemd timer)."),
    max_spend: str | None = typer.Option(None, "--max-spend", help="Cap per deployment, USD (where none was set)."),
    monthly_cap: str | None = typer.Option(None, "--monthly-cap", help="Cap on this month's spend, USD."),
    provider: list[str] | None = ProviderOpt,
    as_json: bool = typer.Option(False, "--json", help="One JSON report per check on stdout."),
    log_format: str = typer.Option("text", "--log-format", help="Log lines on stderr: text, or json (one per line)."),
    health_port: int | None = typer.Option(None, "--health-port", help="Serve GET /healthz here (0: a free port)."),
    health_address: str = typer.Option("127.0.0.1", "--health-address", help="Its address (0.0.0.0: other hosts)."),
    workers: int = WorkersOpt,
    sandbox: bool = SandboxOpt,
) -> None:
    """Autostop: enforce --idle, each deployment's --idle-timeout/--ttl/--max-spend, credit run-out and caps.

    Several watchers on one database elect one leader (a lease in the database); SIGTERM stops after the check
    under way. See docs/team.md for systemd, a container and Kubernetes.
    """
    enter_sandbox(sandbox)
    policy = api.watch_policy(idle, interval, max_spend, monthly_cap)
    chosen = _chosen(provider, workers)
    if log_format not in ("text", "json"):
        raise InvalidInput(f"--log-format must be text or json, not {log_format!r}")
    if health_port is not None:
        inputs.count(health_port, "--health-port", 0, 65535)
    from cloudrun.teardown import health as health_server
    from cloudrun.teardown import service

    _log_to_stderr(log_format)
    load = api.provider_loader()
    health, shutdown = service.Health(policy.interval.total_seconds()), service.Shutdown()
    server = health_server.serve(health, health_port, health_address) if health_port is not None else None
    shutdown.install()

    def run_check() -> teardown.TeardownReport:
        return service.led_check(
            StateStore, lambda state: api.teardown(state, load, policy, providers=chosen, max_workers=workers), health
        )

    def show(report: teardown.TeardownReport) -> None:
        if as_json:
            print_json(report.to_json())
        elif not once:
            print_decisions(out, report)

    try:
        report = teardown.watch(run_check, interval_s=policy.interval.total_seconds(), once=once, on_report=show,
                                sleep=shutdown.sleep, stopping=shutdown.requested)  # fmt: skip
    except KeyboardInterrupt:  # between checks: nothing is under way
        raise typer.Exit(130) from None
    finally:
        service.step_down(StateStore, health)
        shutdown.uninstall()
        if server is not None:
            server.shutdown()
    if once and not as_json:
        print_report(out, report)
    exit_code(report)


@app.command()
@errors_to_exit
def metrics(
    port: int = typer.Option(9108, "--port", help="Serve /metrics on this port."),
    address: str = typer.Option("127.0.0.1", "--address", help="Listen address (0.0.0.0 for other hosts)."),
    once: bool = typer.Option(False, "--once", help="Print the metrics once and exit."),
    sandbox: bool = SandboxOpt,
) -> None:
    """Prometheus exporter: deployments up, $/h, cost so far, minutes since last invocation, credit runway."""
    enter_sandbox(sandbox)
    inputs.count(port, "--port", 1, 65535)
    try:
        import prometheus_client  # noqa: F401 - imported by this command only
    except ImportError as exc:
        raise InvalidInput(
            "`cloudrun metrics` needs prometheus-client", hint="pip install 'cloudrun-llm[metrics]'"
        ) from exc
    from cloudrun.teardown import exporter

    collector = exporter.CloudrunCollector(StateStore, api.provider_loader())
    if once:
        sys.stdout.write(exporter.exposition(collector))
        return
    exporter.serve(collector, port, address)
    out.print(f"serving Prometheus metrics on http://{address}:{port}/metrics (Ctrl-C stops)")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


def down_all(providers: list[str] | None, *, yes: bool, dry_run: bool, as_json: bool, workers: int) -> None:
    """`cloudrun down --all`: remove every deployment (orphans too) concurrently; exit 1 if any failed."""
    chosen = _chosen(providers, workers)
    if not dry_run:
        confirm(f"Remove EVERY cloudrun deployment{' on ' + ', '.join(chosen) if chosen else ''}?", yes=yes)
    with StateStore() as state:
        report = api.down_all(state, api.provider_loader(), providers=chosen, dry_run=dry_run, max_workers=workers)
    print_json(report.to_json()) if as_json else print_report(out, report)
    exit_code(report)
