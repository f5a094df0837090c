"""`cloudrun credits [add|remove|sync|presets]`: thin commands over the credit ledger."""

from __future__ import annotations

from datetime import datetime, timezone

import typer

from cloudrun.cli import render_credits
from cloudrun.credits import parse_time
from cloudrun.credits import presets as credit_presets
from cloudrun.credits import sync as credit_sync
from cloudrun.credits.ledger import Ledger, LedgerGrant, new_id, to_amount, validate
from cloudrun.errors import InvalidInput
from cloudrun.models import PROVIDERS, SERVICES
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
        balances = Ledger(store).balances(now)
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
    now = _now()
    fields = {
        "amount_usd": to_amount(amount) if amount is not None else None,
        "starts_at": parse_time(starts, "--starts") if starts else None,
        "expires_at": parse_time(expires, "--expires") if expires else None,
    }
    if preset:
        if provider or services:
            raise InvalidInput("--preset sets the provider and services", hint="drop --provider/--services")
        grant = credit_presets.build(credit_presets.get(preset), now=now, upgraded=upgraded, gpu_eligible=gpu_eligible,
                                     name=name, account=account, currency=currency, **fields)  # fmt: skip
    else:
        grant = _manual(provider, split_values(services), gpu_eligible, upgraded, name, account, currency, now, fields)
    with StateStore() as store:
        Ledger(store).add(grant)
    if as_json:
        print_json(grant.model_dump(mode="json"))
    else:
        out.print(f"added {grant.name} ({grant.id}): ${grant.amount_usd:,.2f} {grant.provider} until "
                  f"{grant.expires_at:%Y-%m-%d}; {render_credits.gpu_note(grant)}", highlight=False)  # fmt: skip


def _manual(
    provider: str | None,
    services: list[str] | None,
    gpu_eligible: bool,
    upgraded: bool,
    name: str | None,
    account: str,
    currency: str,
    now: datetime,
    fields: dict,
) -> LedgerGrant:
    if provider not in PROVIDERS:
        raise InvalidInput("--provider aws, gcp or azure is needed without --preset", hint="or use --preset")
    if fields["amount_usd"] is None or fields["expires_at"] is None:
        raise InvalidInput("--amount and --expires are needed without --preset")
    if upgraded:
        raise InvalidInput("--upgraded applies to trial presets", hint="say --gpu-eligible if it pays for GPUs")
    return validate(LedgerGrant(
        id=new_id(), provider=provider, account=account, name=name or f"{provider}-credit-{now:%Y%m%d}",
        amount_usd=fields["amount_usd"], currency=currency, starts_at=fields["starts_at"] or now,
        expires_at=fields["expires_at"], services=tuple(services or (SERVICES[provider],)),
        gpu_eligible=gpu_eligible, source="manual", created_at=now,
    ))  # fmt: skip


@credits_app.command("remove")
@errors_to_exit
def remove(
    name_or_id: str = typer.Argument(..., help="The credit's name or id (see `cloudrun credits`)."),
    yes: bool = YesOpt,
    sandbox: bool = SandboxOpt,
) -> None:
    """Remove a credit and its balance observations from the ledger."""
    enter_sandbox(sandbox)
    with StateStore() as store:
        ledger = Ledger(store)
        grant = ledger.find(name_or_id)
        confirm(f"Remove credit {grant.name} (${grant.amount_usd:,.2f} {grant.provider}) from the ledger?", yes=yes)
        ledger.remove(grant.id)
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
    providers = split_values(provider) or list(PROVIDERS)
    unknown = sorted(set(providers) - set(PROVIDERS))
    if unknown:
        raise InvalidInput(f"--provider {', '.join(unknown)}: choose from {', '.join(PROVIDERS)}")
    now = _now()
    with StateStore() as store:
        ledger = Ledger(store)
        results = credit_sync.sync(ledger, now, providers=providers, cost_explorer=cost_explorer,
                                   azure_billing_profile=billing_profile)  # fmt: skip
        balances = ledger.balances(now)
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
