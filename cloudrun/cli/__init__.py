"""The `cloudrun` command: thin typer commands over `cloudrun.api`, with one error boundary (cloudrun.terminal).

Imports no cloud SDK; a command that needs one imports it through its provider when it runs. The commands live
by domain: plan (size, plan), deploy (deploy, status, down, invoke, check), teardown (teardown, watch, metrics),
credits, catalog. Command groups from elsewhere (`cloudrun sandbox`, `cloudrun azure`) are found through the
`cloudrun.commands` entry points, each a typer app added under its entry's name.
"""

from __future__ import annotations

import gc

import typer

from cloudrun import __version__, debugging, terminal
from cloudrun import provider as registry
from cloudrun.terminal import _RootGroup, app, errors_to_exit

# The commands, in the order --help lists them: the module that registers each (imported only when it runs or its
# own help is asked), and its one-line help as --help lists it (tests/test_cli_startup.py: equal to the command's).
_RootGroup.lazy.update({
    "size": ("cloudrun.cli.plan", "How much GPU memory a model needs: parameters, weights, KV cache per token, total."),
    "plan": ("cloudrun.cli.plan", "Every offer the model fits, ranked by what you would pay after credits (per "
             "token with --load)."),
    "compare": ("cloudrun.cli.compare", "Local hardware vs cloud endpoints for the same load: total cost of ownership "
                "and the break-even month."),
    "deploy": ("cloudrun.cli.deploy", "Deploy a model as an endpoint: plan, confirm, create, wait until in service, "
               "fail over on quota/capacity."),
    "stage": ("cloudrun.cli.stage", "Copy a model's weights into your own bucket in a region, so deploys there load "
              "from it: `cloudrun stage MODEL --provider P --region R`; `stage list`; `stage rm MODEL`."),
    "status": ("cloudrun.cli.deploy", "Deployments with their status, uptime, $/h and cost so far."),
    "down": ("cloudrun.cli.deploy", "Remove one deployment (or --all): every resource carrying its cloudrun tags, "
             "and say which."),
    "invoke": ("cloudrun.cli.deploy", "Send one chat message to a deployment and print the reply."),
    "check": ("cloudrun.cli.deploy", "Which providers have their SDK and usable credentials, and what to do for the "
              "others."),
    "teardown": ("cloudrun.cli.teardown", "Remove idle endpoints: no invocations and in service for at least DURATION "
                 "(orphans included)."),
    "watch": ("cloudrun.cli.teardown", "Autostop: enforce --idle, each deployment's "
              "--idle-timeout/--ttl/--max-spend, credit run-out and caps."),
    "metrics": ("cloudrun.cli.teardown", "Prometheus exporter: deployments up, $/h, cost so far, minutes since last "
                "invocation, credit runway."),
    "credits": ("cloudrun.cli.credits", "Free credit you hold: what is left, when it expires, whether it pays for "
                "GPUs, burn and runway."),
    "catalog": ("cloudrun.cli.catalog", "The price catalog: refresh it from the providers' price APIs, show it."),
    "config": ("cloudrun.cli.config", "Your defaults (provider, region, project, workspace, role, limits): "
               "config.toml."),
})  # fmt: skip
# Command groups from elsewhere (`cloudrun sandbox`, `cloudrun azure`): the `cloudrun.commands` entry points, each a
# typer app added under its entry's name when it is run; the built-in ones' one-line help, for --help.
_RootGroup.plugins = staticmethod(lambda: registry.registry(registry.COMMANDS_GROUP))  # type: ignore[assignment]
_RootGroup.plugin_help.update({
    "sandbox": "Local emulated clouds: deploy, call and remove endpoints with no account, no spend.",
    "azure": "Azure ML helpers: the vLLM wrapper image its deployments need.",
})  # fmt: skip


def _version(value: object) -> None:
    # `is True`, never truthiness: under click >= 8.2.2 an old typer (0.12.5) hands an unset flag's callback the
    # *string* "False" (pallets/click#3054, flag_value with default=False now comes back as str), which is truthy,
    # so every command (`teardown --yes` and `watch --once` from cron included) printed this line and exited 0
    # having done nothing. Only a real True, i.e. --version on the command line, may end the process here.
    if value is True:
        terminal.out.print(f"cloudrun {__version__}")
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
    from cloudrun import config as user_config  # not `config`: the cloudrun.cli.config submodule takes that name

    if debug or debugging.enabled():
        debugging.enable()
    # flag > environment variable > config.toml > default: the file's values become the flags' defaults
    ctx.default_map = {**(ctx.default_map or {}), **user_config.apply(user_config.load())}


def main() -> None:
    # A short-lived process that builds many small objects (a large catalog's plan): the cyclic GC's
    # repeated full passes cost more than they free, so run it far less often.
    gc.freeze()
    gc.set_threshold(200_000, 50, 100)
    app()
