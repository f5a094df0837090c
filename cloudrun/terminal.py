"""What every `cloudrun` command shares, the core's and the plugins' (sandbox, azure): the typer app, the consoles, the
error boundary, JSON output, the common options. Outside the cli package, so a plugin importing it never triggers
the command registration that imports the plugin (cloudrun/cli/__init__.py)."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from cloudrun import debugging
from cloudrun.errors import CloudrunError

app = typer.Typer(
    help="Deploy an open LLM where it is cheapest after your free credits, and stop the meter when idle.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, PowerShell)
    pretty_exceptions_enable=False,
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


def errors_to_exit(fn: F) -> F:
    """Turn cloudrun errors into a one-line message on stderr and their exit code; anything unexpected into one
    line too (exit 1), never a raw traceback. With --debug, the causes, request ids and traceback follow."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CloudrunError as exc:
            _report(f"[red]error:[/red] {escape(str(exc))}", exc)
            raise typer.Exit(exc.exit_code) from None
        except Exception as exc:  # noqa: BLE001 - the catch-all: a bug must still read as one line
            if type(exc).__module__.startswith(("typer", "click")):
                raise  # typer's own ways out (Exit codes, usage errors, Abort), whichever click it vendors
            what = escape(f"{type(exc).__name__}: {exc}")
            _report(f"[red]error:[/red] unexpected {what} (a bug in cloudrun: --debug shows where; please report)", exc)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def _report(line: str, exc: BaseException) -> None:
    err.print(line, highlight=False)
    if debugging.enabled():
        err.print(debugging.story(exc), highlight=False, markup=False)


def print_json(document: Any) -> None:
    """Print one JSON document: indented for a person at a terminal, compact (and faster) for a pipe."""
    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(json.dumps(document, indent=indent, default=str) + "\n")


def split_values(values: list[str] | None) -> list[str] | None:
    """Accept both `--provider aws --provider gcp` and `--provider aws,gcp`."""
    if not values:
        return None
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def confirm(question: str, *, yes: bool) -> None:
    """Ask before a change that costs money or deletes; --yes skips it; no terminal means no."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise CloudrunError(f"{question} Not confirmed: no terminal to ask on", hint="pass --yes to proceed")
    if not typer.confirm(question, default=False, err=True):
        raise typer.Exit(1)


def enter_sandbox(sandbox: bool) -> None:
    """With --sandbox, point this process at the running sandbox (its fakes and its own state folder).

    The sandbox is an extra (`cloudrun-llm[sandbox]`): found through the `cloudrun.environments` entry points.
    """
    if sandbox:
        from cloudrun import provider as registry

        registry.hook(registry.ENVIRONMENTS_GROUP, "sandbox")()


JsonOpt = typer.Option(False, "--json", help="Print JSON instead of a table.")
YesOpt = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")
DryRunOpt = typer.Option(False, "--dry-run", help="Show what would be done, and do nothing.")
SandboxOpt = typer.Option(False, "--sandbox", help="Use the local emulated clouds (`cloudrun sandbox start`).")
