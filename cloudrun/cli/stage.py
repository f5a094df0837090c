"""`cloudrun stage MODEL`, `stage list`, `stage rm MODEL`: thin commands over cloudrun.stage_ops.

`stage` is a group whose first word is either a subcommand (list, rm) or a model id, which copies that model:
`cloudrun stage deepseek-ai/deepseek-llm-67b-chat --provider aws --region us-east-1`.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timezone
from typing import Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from cloudrun import hub, stage_advice, stage_ops, staging
from cloudrun.cli.deploy import _loader
from cloudrun.errors import InvalidInput
from cloudrun.models import Precision
from cloudrun.state import StateStore
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
)

COPY = "copy"


class _ModelOrCommand(TyperGroup):
    """`stage MODEL ...` runs the hidden `copy` command; `stage list` and `stage rm` are what they say."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = [COPY, *args]
        return super().parse_args(ctx, args)


stage_app = typer.Typer(
    cls=_ModelOrCommand,
    no_args_is_help=True,
    help="Copy a model's weights into your own bucket in a region, so deploys there load from it: "
    "`cloudrun stage MODEL --provider P --region R`; `stage list`; `stage rm MODEL`.",
)
app.add_typer(stage_app, name="stage")

ProviderOpt = typer.Option(..., "--provider", help="aws, gcp or azure.")
RegionOpt = typer.Option(..., "--region", help="The region deploys will run in, e.g. us-east-1.")


@stage_app.command(COPY)
@errors_to_exit
def copy(
    model: str = typer.Argument(..., help="Hugging Face model id."),
    provider: str = ProviderOpt,
    region: str = RegionOpt,
    precision: Precision | None = typer.Option(None, "--precision", help="Stage the checkpoint this precision loads."),
    quantized_model: str | None = typer.Option(None, "--quantized-model", help="Stage this pre-quantized checkpoint."),
    revision: str = typer.Option("main", "--revision", help="Branch, tag or commit on the Hub."),
    in_cloud: bool = typer.Option(False, "--in-cloud", help="Copy from a machine in the region (aws: a SageMaker "
                                  "Processing job, billed per second) instead of through this one."),  # fmt: skip
    as_json: bool = JsonOpt,
    sandbox: bool = SandboxOpt,
) -> None:
    """Copy MODEL's weights from the Hub into cloudrun's bucket in the region, resumably (`stage MODEL` for short)."""
    if in_cloud and sandbox:
        raise InvalidInput("the sandbox does not run processing jobs", hint="stage in the sandbox without --in-cloud")
    enter_sandbox(sandbox)
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                   TimeRemainingColumn(), console=err, transient=True, disable=as_json)  # fmt: skip
    task = bar.add_task(f"staging {escape(model)}", total=None)
    watch = stage_advice.CopyWatch(_in_region_command(model, provider, region))

    def planned(snapshot: Any, already: int) -> None:
        bar.update(task, total=snapshot.total_bytes)
        watch.planned(snapshot.total_bytes, already)
        if already:
            err.print(f"resuming: {already / 1e9:.2f} GB already staged and checked", highlight=False)

    def sent(n: int) -> None:
        bar.advance(task, n)
        if (note := watch.tick(n)) is not None:
            err.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False)

    jobs: list[str] = []

    def job_started(job: str, what: str, snapshot: Any, already: int) -> None:
        jobs.append(job)
        left = (snapshot.total_bytes - already) / 1e9
        err.print(f"started {escape(job)}, {escape(what)}: {left:.2f} GB to copy from the Hub; waiting for it "
                  "(Ctrl-C stops waiting, not the job)", highlight=False)  # fmt: skip
        if hub.token() and not hub.public(snapshot.model_id, snapshot.revision):
            err.print("[yellow]warning:[/yellow] the model is gated: HF_TOKEN is in the job's environment, "
                      "readable with DescribeProcessingJob", highlight=False)  # fmt: skip

    with (contextlib.nullcontext() if in_cloud else bar), StateStore() as state:
        result = stage_ops.stage_model(state, _loader(), model, provider, region, precision=precision,
                                       quantized_model=quantized_model, revision=revision, progress=sent,
                                       on_plan=planned, in_cloud=in_cloud, on_job=job_started)  # fmt: skip
    if as_json:
        print_json({**_result_json(result), "in_cloud_note": watch.note, "in_cloud_job": jobs[0] if jobs else None})
        return
    manifest = result.manifest
    rate = result.sent_bytes / result.seconds / 1e6 if result.seconds > 0 else 0.0
    out.print(f"staged {manifest.model_id} ({manifest.revision[:12]}): {len(manifest.files)} files, "
              f"{manifest.total_bytes / 1e9:.2f} GB at {manifest.uri}", highlight=False, markup=False)  # fmt: skip
    out.print(f"sent {result.sent_bytes / 1e9:.2f} GB in {result.seconds:.1f} s ({rate:.1f} MB/s), "
              f"{result.skipped_bytes / 1e9:.2f} GB already there", highlight=False)  # fmt: skip
    price, source = staging.STORAGE_PRICES[manifest.provider]
    out.print(f"storage: about ${result.monthly_cost_usd}/month (${price}/GB-month list price, {source})",
              highlight=False, markup=False)  # fmt: skip
    out.print(f"`cloudrun deploy {manifest.model_id} --provider {manifest.provider} --region {manifest.region}` "
              "now loads from it", highlight=False, markup=False)  # fmt: skip


@stage_app.command("list")
@errors_to_exit
def list_(as_json: bool = JsonOpt, sandbox: bool = SandboxOpt) -> None:
    """The staged copies, their size and their storage cost per month."""
    enter_sandbox(sandbox)
    with StateStore() as state:
        copies = stage_ops.staged(state)
    cost = stage_ops.monthly_cost_usd(copies)
    if as_json:
        print_json({"staged": [_copy_json(c) for c in copies], "storage_per_month": cost})
        return
    if not copies:
        out.print("nothing staged: `cloudrun stage MODEL --provider P --region R` copies a model")
        return
    for c in copies:
        out.print(f"{c.model_id}  {c.provider} {c.region}  {c.total_bytes / 1e9:.2f} GB  "
                  f"${staging.monthly_cost_usd(c.provider, c.total_bytes)}/month  {c.uri}", highlight=False,
                  markup=False)  # fmt: skip
    out.print(f"storage in total: about ${cost['total_usd']}/month (list prices)", highlight=False)


@stage_app.command("rm")
@errors_to_exit
def rm(
    model: str = typer.Argument(..., help="The staged model id (see `cloudrun stage list`)."),
    provider: str = ProviderOpt,
    region: str = RegionOpt,
    yes: bool = YesOpt,
    dry_run: bool = DryRunOpt,
    as_json: bool = JsonOpt,
    sandbox: bool = SandboxOpt,
) -> None:
    """Delete a model's staged copies in cloudrun's tagged bucket in the region (nothing untagged is touched)."""
    enter_sandbox(sandbox)
    with StateStore() as state:
        if not dry_run:
            confirm(f"Delete the staged weights of {model} in {provider} {region}?", yes=yes)
        keys = stage_ops.unstage(state, _loader(), model, provider, region, dry_run=dry_run)
    if as_json:
        print_json({"model_id": model, "dry_run": dry_run, "objects": keys})
        return
    verb = "would delete" if dry_run else "deleted"
    out.print(f"{verb} {len(keys)} objects of {model} in {provider} {region}", highlight=False, markup=False)


def _in_region_command(model: str, provider: str, region: str) -> str:
    """Return how to run the copy from a machine in the region instead of this one."""
    command = f"cloudrun stage {model} --provider {provider} --region {region}"
    return f"`{command} --in-cloud`" if provider == "aws" else f"`{command}` on a VM in {region}"


def _result_json(result: staging.StageResult) -> dict[str, Any]:
    manifest = result.manifest
    return {"model_id": manifest.model_id, "revision": manifest.revision, "provider": manifest.provider,
            "region": manifest.region, "uri": manifest.uri, "files": len(manifest.files),
            "total_bytes": manifest.total_bytes, "sent_bytes": result.sent_bytes,
            "skipped_bytes": result.skipped_bytes, "seconds": round(result.seconds, 3),
            "storage_usd_per_month": str(result.monthly_cost_usd),
            "storage_price_source": staging.STORAGE_PRICES[manifest.provider][1]}  # fmt: skip


def _copy_json(c: Any) -> dict[str, Any]:
    return {"model_id": c.model_id, "provider": c.provider, "region": c.region, "revision": c.revision,
            "uri": c.uri, "files": c.files, "total_bytes": c.total_bytes, "staged_at": c.staged_at.isoformat(),
            "storage_usd_per_month": str(staging.monthly_cost_usd(c.provider, c.total_bytes)),
            "age_days": round((datetime.now(timezone.utc) - c.staged_at).total_seconds() / 86400, 2)}  # fmt: skip
