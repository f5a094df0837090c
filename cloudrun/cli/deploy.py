"""`cloudrun deploy`, `status`, `down`, `invoke`, `check`: thin commands over `cloudrun.api`."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from cloudrun import api, inputs, stage_ops, time_to_serve
from cloudrun.cli import render_deploy
from cloudrun.deployer import DeployInterrupted, WaitPolicy
from cloudrun.errors import AuthError, CloudrunError, InvalidInput
from cloudrun.hub import token as hf_token_set
from cloudrun.models import PlanOption, Precision
from cloudrun.state import StateStore
from cloudrun.state import database as state_database
from cloudrun.terminal import (
    DryRunOpt,
    JsonOpt,
    SandboxOpt,
    YesOpt,
    app,
    confirm,
    enter_sandbox,
    err,
    errors_to_exit,
    out,
    print_json,
    split_values,
)
from cloudrun.warmup import payloads as warmup_payloads


def _loader(
    role: str | None = None,
    project: str | None = None,
    subscription: str | None = None,
    resource_group: str | None = None,
    workspace: str | None = None,
):  # noqa: ANN202 - a provider loader
    """Return a provider loader with the account options given on the command line (unset ones omitted)."""
    options = {
        "aws": {"role_arn": role},
        "gcp": {"project": project},
        "azure": {"subscription_id": subscription, "resource_group": resource_group, "workspace": workspace},
    }
    return api.provider_loader({p: {k: v for k, v in o.items() if v} for p, o in options.items()})


def deployment_names(incomplete: str) -> list[str]:
    """Return the recorded live deployments whose name starts with `incomplete`, for shell completion."""
    if not state_database.exists():  # completing must never create a state file
        return []
    try:
        with StateStore() as state:
            return [row.name for row in state.list() if row.name.startswith(incomplete)]
    except CloudrunError:
        return []


@app.command()
@errors_to_exit
def deploy(
    model: str = typer.Argument(..., help="Hugging Face model id, e.g. deepseek-ai/DeepSeek-R1-Distill-Qwen-7B."),
    cheapest: bool = typer.Option(False, "--cheapest", help="Cheapest placement after credits (the default)."),
    provider: str | None = typer.Option(
        None, "--provider", envvar="CLOUDRUN_PROVIDER", help="aws, gcp or azure (with --cheapest: a filter)."
    ),
    exclude: list[str] | None = typer.Option(
        None, "--exclude", envvar="CLOUDRUN_EXCLUDE", help="Leave this provider out (repeatable)."
    ),
    region: str | None = typer.Option(
        None, "--region", envvar="CLOUDRUN_REGION", help="Region (with --cheapest: a filter)."
    ),
    instance_type: str | None = typer.Option(None, "--instance-type", help="Instance type, e.g. ml.g5.12xlarge."),
    name: str | None = typer.Option(None, "--name", help="Deployment name (default: from the model id)."),
    precision: Precision | None = typer.Option(None, "--precision", help="bf16, fp8, int8 or int4."),
    quantized_model: str | None = typer.Option(
        None, "--quantized-model", help="Serve this pre-quantized checkpoint of the model (AWQ, GPTQ, FP8)."
    ),  # fmt: skip
    context: int | None = typer.Option(None, "--context", help="Max tokens per request (vLLM max model length)."),
    spot: bool = typer.Option(False, "--spot", help="On spot VMs (Vertex AI only): cheaper, can be reclaimed."),
    hours: float = typer.Option(
        24.0, "--hours", envvar="CLOUDRUN_HOURS", help="How long you expect it to run, for the cost shown."
    ),
    catalog: Path | None = typer.Option(None, "--catalog", help="A price CSV replacing the bundled snapshot."),
    credits: Path | None = typer.Option(None, "--credits", help="A JSON list of credit grants."),
    role: str | None = typer.Option(None, "--role", help="SageMaker execution role ARN."),
    project: str | None = typer.Option(None, "--project", help="Google Cloud project (else GOOGLE_CLOUD_PROJECT)."),
    subscription: str | None = typer.Option(None, "--subscription", help="Azure subscription id."),
    resource_group: str | None = typer.Option(None, "--resource-group", help="Azure resource group."),
    workspace: str | None = typer.Option(None, "--workspace", help="Azure ML workspace."),
    free_only: bool = typer.Option(False, "--free-only", help="Only placements credit pays for in full."),
    max_price: str | None = typer.Option(
        None, "--max-price", help="Only placements up to this USD/h; failover to any of them without asking."
    ),  # fmt: skip
    idle_timeout: str | None = typer.Option(
        None, "--idle-timeout", envvar="CLOUDRUN_IDLE_TIMEOUT", help="`watch` removes it when idle this long."
    ),
    ttl: str | None = typer.Option(
        None, "--ttl", envvar="CLOUDRUN_TTL", help="`watch` removes it this long after creation, e.g. 8h."
    ),
    max_spend: str | None = typer.Option(
        None, "--max-spend", envvar="CLOUDRUN_MAX_SPEND", help="`watch` removes it before it costs more (USD)."
    ),
    stage: bool = typer.Option(False, "--stage", help="Stage the weights in the first placement's region first "
                               "(`cloudrun stage`), then load from there."),  # fmt: skip
    warmup: str | None = typer.Option(None, "--warmup", help="Before reporting ready, send N prompts, or each line "
                                      "of a JSONL FILE ({\"prompt\": ...})."),  # fmt: skip
    owner: str | None = typer.Option(
        None, "--owner", help="Who it is deployed for, shown to a team sharing the state (default: your OS user)."
    ),
    dry_run: bool = DryRunOpt,
    yes: bool = YesOpt,
    as_json: bool = JsonOpt,
    sandbox: bool = SandboxOpt,
) -> None:
    """Deploy a model as an endpoint: plan, confirm, create, wait until in service, fail over on quota/capacity.

    Where `cloudrun stage` copied the weights to the placement's region, the endpoint loads them from there (and no
    Hugging Face token enters it)."""
    enter_sandbox(sandbox)
    plan = api.prepare_deploy(
        model, cheapest=cheapest, provider=provider, region=region, instance_type=instance_type, name=name,
        precision=precision, quantized_model=quantized_model, context=context, hours=hours, catalog_file=catalog,
        credits_file=credits, spot=spot, exclude=split_values(exclude), free_only=free_only, max_price=max_price,
        idle_timeout=idle_timeout, ttl=ttl, max_spend=max_spend, owner=owner,
    )  # fmt: skip
    load = _loader(role, project, subscription, resource_group, workspace)
    console = err if as_json else out
    warmups = warmup_payloads(warmup) if warmup is not None else None  # checked before anything is created
    with StateStore() as state:
        if stage and not dry_run:
            stage_ops.stage_first(state, load, plan)
        staged = stage_ops.use_staged(plan, state)
    first = plan.targets[0]
    estimate = time_to_serve.estimate(plan.plan.need, first.spec.gpu_count, instance_type=first.spec.instance_type,
                                      past=time_to_serve.history())  # fmt: skip
    console.print(estimate.describe()
                  + (f"; loading from {first.spec.weights_uri}" if first.spec.weights_uri else ""),
                  highlight=False, markup=False, style="dim")  # fmt: skip
    if not first.spec.weights_uri and hf_token_set() and not dry_run:
        where = load(first.spec.provider).token_visible_in
        console.print(f"[yellow]warning:[/yellow] HF_TOKEN goes into {escape(where)}; `cloudrun stage` first "
                      "keeps it out of the endpoint", highlight=False)  # fmt: skip
    if staged and not first.spec.weights_uri:
        console.print(f"staged copies exist for later placements only: {', '.join(staged)}", style="dim",
                      highlight=False, markup=False)  # fmt: skip
    if dry_run:
        render_deploy.print_deploy_plan(console, plan)
        return _dry_run(plan, load, as_json)
    policy = WaitPolicy(first_s=0.5, max_s=2.0) if sandbox else None  # the sandbox's endpoints start in seconds
    try:
        with render_deploy.progress(console) as update, StateStore() as state:
            result = api.deploy(plan, state, load, progress=update, policy=policy, approve=_approver(update, yes),
                                confirm=_confirmer(console, update, yes))  # fmt: skip
    except KeyboardInterrupt:
        raise DeployInterrupted(f"interrupted; {plan.name} may be partly created (and billing)",
                                hint=f"`cloudrun status --refresh` finds it; `cloudrun down {plan.name}` "
                                "removes it") from None  # fmt: skip
    report = None
    if warmups:
        with StateStore() as state:
            report = api.warm_up(state, load, result.deployment.name, warmups)
    if as_json:
        document = render_deploy.deployment_json(result.deployment)
        if report is not None:
            document["warmup"] = dataclasses.asdict(report)
        print_json(document)
    else:
        if report is not None:
            out.print(f"warmed up: {report.requests} requests in {report.seconds:.1f} s, {report.prompt_tokens} "
                      f"prompt and {report.completion_tokens} completion tokens", highlight=False)  # fmt: skip
        render_deploy.print_deployed(out, result, sandbox=sandbox)


def _confirmer(console: Console, progress: render_deploy.Progress, yes: bool) -> api.Confirm:
    """Return how the plan is shown and agreed to: what is skipped, the first placement and its price, a yes."""

    def agree(plan: api.DeployPlan, skipped: list[tuple[str, str]]) -> None:
        with progress.paused():
            render_deploy.print_skipped(console, skipped)
            render_deploy.print_deploy_plan(console, plan)
            first = plan.placements[0]
            confirm(f"Deploy {plan.name} on {first.offer.instance_type} at ${first.price_per_hour_usd}/h?", yes=yes)

    return agree


def _approver(progress: render_deploy.Progress, yes: bool) -> Callable[[PlanOption], bool]:
    """Return how a dearer failover placement gets its yes: --yes, else a question (no terminal: no)."""

    def approve(option: PlanOption) -> bool:
        if yes:
            return True
        if not sys.stdin.isatty():
            return False
        question = (f"The cheaper placements failed. Deploy on {option.offer.provider} {option.offer.region} "
                    f"{option.offer.instance_type} at ${option.price_per_hour_usd}/h instead?")  # fmt: skip
        with progress.paused():
            return typer.confirm(question, default=False, err=True)

    return approve


def _dry_run(plan: api.DeployPlan, load: Callable[[str], Any], as_json: bool) -> None:
    """Show the requests the real deploy would send first (skipping placements it would refuse), sending nothing."""
    skipped, requests = api.dry_run_requests(plan, load)
    for reason in skipped:
        err.print(f"[yellow]warning:[/yellow] a real deploy would skip {escape(reason)}", highlight=False)
    if as_json:
        print_json({"name": plan.name, "dry_run": True, "skipped": skipped,
                    "requests": [{"operation": op, "params": params} for op, params in requests]})  # fmt: skip
    else:
        render_deploy.print_requests(out, requests)


@app.command()
@errors_to_exit
def status(
    refresh: bool = typer.Option(False, "--refresh", help="Reconcile with the clouds: adopt orphans, mark vanished."),
    show_all: bool = typer.Option(False, "--all", help="Include deleted deployments."),
    all_users: bool = typer.Option(
        False, "--all-users", help="Everyone's deployments on a shared database, with cost per owner (default: yours)."
    ),
    as_json: bool = JsonOpt,
    sandbox: bool = SandboxOpt,
) -> None:
    """Deployments with their status, uptime, $/h and cost so far."""
    enter_sandbox(sandbox)
    now = datetime.now(timezone.utc)
    with StateStore() as state:
        rows, report = api.status(state, _loader(), refresh=refresh, include_deleted=show_all, all_users=all_users)
        copies = stage_ops.staged(state)
    storage = stage_ops.monthly_cost_usd(copies)
    if as_json:
        print_json({"deployments": [render_deploy.deployment_json(d, now) for d in rows],
                    "owners": render_deploy.owners_json(rows, now),
                    "reconciled": render_deploy.report_json(report),
                    "staged_weights": {"copies": len(copies), "bytes": sum(c.total_bytes for c in copies),
                                       "storage_per_month": storage}})  # fmt: skip
    else:
        render_deploy.print_status(out, rows, report, now, by_owner=all_users)
        if copies:
            size_gb = sum(c.total_bytes for c in copies) / 1e9
            count = f"{len(copies)} cop{'y' if len(copies) == 1 else 'ies'}"
            out.print(f"staged weights: {count}, {size_gb:.1f} GB, about ${storage['total_usd']}/month "
                      "in storage (list prices; `cloudrun stage list`)", highlight=False)  # fmt: skip


@app.command()
@errors_to_exit
def down(
    name: str | None = typer.Argument(
        None, help="The deployment to remove (see `cloudrun status`).", autocompletion=deployment_names
    ),
    all_: bool = typer.Option(False, "--all", help="Remove every deployment, orphans too (the panic button)."),
    provider: list[str] | None = typer.Option(None, "--provider", help="With --all: only these providers."),
    yes: bool = YesOpt,
    dry_run: bool = DryRunOpt,
    as_json: bool = JsonOpt,
    sandbox: bool = SandboxOpt,
) -> None:
    """Remove one deployment (or --all): every resource carrying its cloudrun tags, and say which."""
    enter_sandbox(sandbox)
    if (name is None) == (not all_):
        raise InvalidInput("give a deployment NAME or --all, not both", hint="`cloudrun status` lists the names")
    if all_:
        from cloudrun.cli.teardown import down_all

        return down_all(provider, yes=yes, dry_run=dry_run, as_json=as_json, workers=8)
    with StateStore() as state:
        row = api.live_deployment(state, name)
        if dry_run:
            out.print(f"would remove {row.name}: {row.provider} {row.region} {row.instance_type} ({row.status.value})")
            return
        confirm(f"Remove {row.name} ({row.provider} {row.region} {row.instance_type})?", yes=yes)
        final = api.down(state, _loader(), name)
    if as_json:
        print_json(render_deploy.removed_json(final))
    else:
        out.print(render_deploy.removed_text(final, datetime.now(timezone.utc)), highlight=False, markup=False)


@app.command()
@errors_to_exit
def invoke(
    name: str = typer.Argument(..., help="The deployment to call.", autocompletion=deployment_names),
    prompt: str = typer.Argument("Say hello in one sentence.", help="The user message."),
    max_tokens: int = typer.Option(256, "--max-tokens", help="Longest reply, in tokens."),
    as_json: bool = JsonOpt,
    sandbox: bool = SandboxOpt,
) -> None:
    """Send one chat message to a deployment and print the reply."""
    enter_sandbox(sandbox)
    inputs.count(max_tokens, "--max-tokens", 1, inputs.bounds.MAX_REPLY_TOKENS, "tokens")  # before the state is opened
    with StateStore() as state:
        reply = api.invoke(state, _loader(), name, prompt, max_tokens)
    if as_json:
        print_json(reply)
    else:
        out.print(render_deploy.reply_text(reply), highlight=False)


@app.command()
@errors_to_exit
def check(as_json: bool = JsonOpt, sandbox: bool = SandboxOpt) -> None:
    """Which providers have their SDK and usable credentials, and what to do for the others."""
    enter_sandbox(sandbox)
    results = api.check()
    if as_json:
        print_json([r.model_dump() for r in results])
    else:
        render_deploy.print_checks(out, results)
    if not any(r.credentials_ok for r in results):
        raise typer.Exit(AuthError.exit_code)  # no provider can deploy: a script must not read this as ready
