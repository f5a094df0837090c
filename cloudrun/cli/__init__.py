"""The `cloudrun` command: thin typer commands over `cloudrun.api`, with one error boundary (cloudrun.terminal).

Imports no cloud SDK; a command that needs one imports it through its provider when it runs. The commands live
by domain: plan (size, plan), deploy (deploy, status, down, invoke, check), teardown (teardown, watch, metrics),
credits, catalog. Command groups from elsewhere (`cloudrun sandbox`, `cloudrun azure`) are found through the
`cloudrun.commands` entry points, each a typer app added under its entry's name.
"""

from __future__ import annotations

import gc

import typer
from rich.markup import escape

from cloudrun import __version__, debugging
from cloudrun import config as user_config  # not `config`: the cloudrun.cli.config submodule takes that name
from cloudrun import provider as registry
from cloudrun.errors import CloudrunError
from cloudrun.terminal import app, err, errors_to_exit, out

# Each module registers its commands, in the order --help lists them.
# isort: off
from cloudrun.cli import plan, deploy, stage, teardown, credits, catalog, config as config_commands  # noqa: F401, E402
# isort: on


def _version(value: object) -> None:
    # `is True`, never truthiness: under click >= 8.2.2 an old typer (0.12.5) hands an unset flag's callback the
    # *string* "False" (pallets/click#3054, flag_value with default=False now comes back as str), which is truthy,
    # so every command (`teardown --yes` and `watch --once` from cron included) printed this line and exited 0
    # having done nothing. Only a real True, i.e. --version on the command line, may end the process here.
    if value is True:
        out.print(f"cloudrun {__version__}")
        raise typer.Exit()


@app.callback()
@errors_to_exit
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
    debug: bool = typer.Option(False, "--debug", help="On an error, show its causes, the cloud's request ids and "
                               "the traceback; log the SDKs' requests (or CLOUDRUN_DEBUG=1)."),  # fmt: skip
) -> None:
    """Deploy an open LLM where it is cheapest after your free credits, and stop the meter when idle."""
    if debug or debugging.enabled():
        debugging.enable()
    # flag > environment variable > config.toml > default: the file's values become the flags' defaults
    ctx.default_map = {**(ctx.default_map or {}), **user_config.apply(user_config.load())}


def _add_command_groups() -> None:
    for name in registry.registry(registry.COMMANDS_GROUP):
        try:
            app.add_typer(registry.hook(registry.COMMANDS_GROUP, name), name=name)
        except CloudrunError as exc:  # a plugin that cannot load costs its own commands, not the others
            why = escape(str(exc))
            err.print(f"[yellow]warning:[/yellow] `cloudrun {name}` is unavailable: {why}", highlight=False)


_add_command_groups()


def main() -> None:
    # A short-lived process that builds many small objects (a large catalog's plan): the cyclic GC's
    # repeated full passes cost more than they free, so run it far less often.
    gc.freeze()
    gc.set_threshold(200_000, 50, 100)
    app()
