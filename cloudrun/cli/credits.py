"""`cloudrun credits [add|remove|sync|presets]`: thin commands over the credit ledger."""

from __future__ import annotations

from datetime import datetime, timezone

import typer

from cloudrun import api, inputs
from cloudrun.cli import render_credits
from cloudrun.credits import sync as credit_sync
from cloudrun.credits.ledger import LedgerGrant
from cloudrun.state import StateStore
from cloudrun.terminal import (
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

credits_app = typer.Typer(
    help="Free credit you hold: what is left, when it expires, whether it pays for GPUs, burn and runway.",
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(credits_app, name="credits")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _show(as_json: bool) -> None:
    now = _now()
    with StateStore() as store:
        balances = api.credits(store, now)
    if as_json:
        print_json(render_credits.ledger_json(balances, now))
    else:
        render_credits.print_ledger(out, balances, now)


@credits_app.callback()
@errors_to_exit
def credits(ctx: typer.Context, as_json: bool = JsonOpt, sandbox: bool = SandboxOpt) -> None:
    """Per credit: remaining, expiry, GPU eligibility, burn $/h from running deployments, runway; and a total.

    With --sandbox, the sandbox's own ledger: try "cheapest after credits" end to end without an account.
    """
    enter_sandbox(sandbox)
    if ctx.invoked_subcommand is None:
        _show(as_json)


@credits_app.command("add")
@errors_to_exit
def add(
    preset: str | None = typer.Option(None, "--preset", help="A programme's rules; see `cloudrun credits presets`."),
    provider: str | None = typer.Option(None, "--provider", help="aws, gcp or azure (without --preset)."),
    amount: str | None = typer.Option(None, "--amount", help="Credit amount in USD."),
    currency: str = typer.Option("USD", "--currency", help="Only USD is supported for now."),
    expires: str | None = typer.Option(None, "--expires", help="Expiry date, e.g. 2027-03-31 (UTC)."),
    starts: str | None = typer.Option(None, "--starts", help="Start / sign-up date (default: today)."),
    services: list[str] | None = typer.Option(None, "--services", help="Services it pays for, e.g. sagemaker."),
    gpu_eligible: bool = typer.Option(False, "--gpu-eligible", help="Say it pays for GPU endpoints."),
    upgraded: bool = typer.Option(False, "--upgraded", help="The trial account has been upgraded (GPU allowed)."),
    name: str | None = typer.Option(None, "--name", help="A name for it (default: the preset's)."),
    account: str = typer.Option("default", "--account", help="Which account of that cloud it belongs to."),
    as_json: bool = JsonOpt,
    sandbox: bool = SandboxOpt,
) -> None:
    """Add a credit, from a --preset or by hand (--provider, --amount, --expires)."""
    enter_sandbox(sandbox)
    grant = api.credit_from_flags(preset=preset, provider=provider, amount=amount, currency=currency, expires=expires,
                                  starts=starts, services=split_values(services), gpu_eligible=gpu_eligible,
                                  upgraded=upgraded, name=name, account=account)  # fmt: skip
    with StateStore() as store:  # opened only once every flag is checked: a refusal leaves no state file behind
        grant = api.add_credit(store, grant=grant)
    if as_json:
        print_json(grant.model_dump(mode="json"))
    else:
        out.print(f"added {grant.name} ({grant.id}): ${grant.amount_usd:,.2f} {grant.provider} until "
                  f"{grant.expires_at:%Y-%m-%d}; {render_credits.gpu_note(grant)}", highlight=False)  # fmt: skip


@credits_app.command("remove")
@errors_to_exit
def remove(
    name_or_id: str = typer.Argument(..., help="The credit's name or id (see `cloudrun credits`)."),
    yes: bool = YesOpt,
    sandbox: bool = SandboxOpt,
) -> None:
    """Remove a credit and its balance observations from the ledger."""
    enter_sandbox(sandbox)

    def ask(grant: LedgerGrant) -> None:
        confirm(f"Remove credit {grant.name} (${grant.amount_usd:,.2f} {grant.provider}) from the ledger?", yes=yes)

    with StateStore() as store:
        grant = api.remove_credit(store, name_or_id, confirm=ask)
    out.print(f"removed {grant.name} ({grant.id})", highlight=False)


@credits_app.command("sync")
@errors_to_exit
def sync(
    provider: list[str] | None = typer.Option(None, "--provider", help="aws, azure or gcp (repeatable; default all)."),
    cost_explorer: bool = typer.Option(
        False, "--cost-explorer", help="Also ask AWS Cost Explorer for credit applied: $0.01 per request."
    ),
    billing_profile: str | None = typer.Option(
        None, "--billing-profile", help=f"Azure MCA billing profile id (or ${credit_sync.AZURE_PROFILE_ENV})."
    ),
    as_json: bool = JsonOpt,
    sandbox: bool = SandboxOpt,
) -> None:
    """Read live balances where the cloud tells them; a failed read keeps the ledger value, marked stale."""
    enter_sandbox(sandbox)
    now = _now()
    chosen = inputs.providers(split_values(provider))  # checked before the state is opened
    with StateStore() as store:
        results, balances = api.sync_credits(store, providers=chosen, cost_explorer=cost_explorer,
                                             billing_profile=billing_profile, now=now)  # fmt: skip
    if as_json:
        print_json({"sync": render_credits.sync_json(results), **render_credits.ledger_json(balances, now)})
        return
    if cost_explorer:
        out.print(f"Cost Explorer charges ${credit_sync.COST_EXPLORER_USD_PER_CALL} per request.", highlight=False)
    render_credits.print_sync(out, results)
    render_credits.print_ledger(out, balances, now)


@credits_app.command("presets")
@errors_to_exit
def presets() -> None:
    """The credit programmes cloudrun knows, with each rule and whether it is verified."""
    render_credits.print_presets(out)
