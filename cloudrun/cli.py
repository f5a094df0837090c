"""The `cloudrun` command: thin typer commands over `cloudrun.api`, with one error boundary.

Imports no cloud SDK; a command that needs one imports it through its provider when it runs.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console

from cloudrun import __version__, api, render
from cloudrun.errors import CloudrunError
from cloudrun.models import Precision

app = typer.Typer(
    help="Deploy an open LLM where it is cheapest after your free credits, and stop the meter when idle.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


def errors_to_exit(fn: F) -> F:
    """Turn cloudrun errors into a one-line message on stderr and their exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CloudrunError as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False)
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


def print_json(document: Any) -> None:
    """Print one JSON document: indented for a person at a terminal, compact (and faster) for a pipe."""
    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(json.dumps(document, indent=indent) + "\n")


def _split(values: list[str] | None) -> list[str] | None:
    """Accept both `--provider aws --provider gcp` and `--provider aws,gcp`."""
    if not values:
        return None
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


ModelArg = typer.Argument(None, help="Hugging Face model id, e.g. deepseek-ai/deepseek-llm-67b-chat.")
PrecisionOpt = typer.Option(None, "--precision", help="bf16, fp8, int8 or int4 (default: the model's own).")
ContextOpt = typer.Option(None, "--context", help="Tokens per request to hold in KV cache (default 4096 or less).")
ConcurrencyOpt = typer.Option(1, "--concurrency", help="Requests served at once, each with a full context.")
ConfigOpt = typer.Option(None, "--config", help="Path to a Hugging Face config.json, for any other model.")
JsonOpt = typer.Option(False, "--json", help="Print JSON instead of a table.")


@app.command()
@errors_to_exit
def size(
    model: str | None = ModelArg,
    precision: Precision | None = PrecisionOpt,
    context: int | None = ContextOpt,
    concurrency: int = ConcurrencyOpt,
    config: Path | None = ConfigOpt,
    as_json: bool = JsonOpt,
) -> None:
    """How much GPU memory a model needs: parameters, weights, KV cache per token, total."""
    need = api.size(model, precision=precision, context=context, concurrency=concurrency, config=config)
    if as_json:
        print_json(render.need_json(need))
    else:
        render.print_need(out, need)


@app.command()
@errors_to_exit
def plan(
    model: str | None = ModelArg,
    precision: Precision | None = PrecisionOpt,
    context: int | None = ContextOpt,
    concurrency: int = ConcurrencyOpt,
    config: Path | None = ConfigOpt,
    hours: float = typer.Option(24.0, "--hours", help="How many hours the endpoint will run."),
    provider: list[str] | None = typer.Option(None, "--provider", help="aws, gcp or azure (repeatable)."),
    region: list[str] | None = typer.Option(None, "--region", help="Only these regions (repeatable)."),
    spot: bool = typer.Option(False, "--spot", help="Add spot options where the service has them (Vertex AI)."),
    catalog: Path | None = typer.Option(None, "--catalog", help="A price CSV replacing the bundled snapshot."),
    credits: Path | None = typer.Option(None, "--credits", help="A JSON list of credit grants."),
    as_json: bool = JsonOpt,
    show_all: bool = typer.Option(False, "--all", help="Also list offers the model does not fit, and why."),
) -> None:
    """Every offer the model fits, ranked by what you would pay after credits."""
    now = datetime.now(timezone.utc)
    result = api.plan(
        model,
        precision=precision,
        context=context,
        concurrency=concurrency,
        config=config,
        hours=hours,
        providers=_split(provider),
        regions=_split(region),
        spot=spot,
        catalog_file=catalog,
        credits_file=credits,
        include_infeasible=show_all,
        now=now,
    )
    if as_json:
        print_json(render.plan_json(result))
    else:
        render.print_plan(out, result, now)


def _version(value: bool) -> None:
    if value:
        out.print(f"cloudrun {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Deploy an open LLM where it is cheapest after your free credits, and stop the meter when idle."""


def main() -> None:
    app()
