"""What every `cloudrun` command shares, the core's and the plugins' (sandbox, azure): the typer app, the consoles, the
error boundary, JSON output, the common options. Outside the cli package, so a plugin importing it never triggers
the command registration that imports the plugin (cloudrun/cli/__init__.py)."""

from __future__ import annotations

import functools
import importlib
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import typer
from typer.core import TyperCommand, TyperGroup

from cloudrun import debugging, deferred_coercion
from cloudrun.errors import CloudrunError

if TYPE_CHECKING:
    from rich.console import Console

    out: Console  # made on first use: the module's __getattr__
    err: Console


_CONSOLES = {"out": {"soft_wrap": True}, "err": {"stderr": True, "soft_wrap": True}}


def __getattr__(name: str) -> Any:
    """`out` and `err`, the rich consoles, made when first asked for: importing rich.console costs 12-20 ms of start-up
    (more with older rich), which `--help`, `plan --json` and every command printing no rich output never pay. A
    module that prints at all takes them at its import (`from cloudrun.terminal import out`); those on `--help`'s and
    `plan`'s path ask `terminal.out` when they print."""
    if name in _CONSOLES:
        from rich.console import Console

        made = globals()[name] = Console(**_CONSOLES[name])
        return made
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _err() -> Console:
    """The stderr console, for this module's own functions (a module's __getattr__ serves only other modules)."""
    return globals().get("err") or __getattr__("err")


def escape(text: str) -> str:
    """Return the text with rich markup escaped (rich.markup.escape, imported when an error is printed)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


class _RootGroup(TyperGroup):
    """The `cloudrun` group.

    Its commands are imported when one is run (or its own help asked), not at start: `--help` lists them from the
    one-line help registered beside each (`lazy`), so neither it nor `plan` pays for the modules, pydantic models and
    SDK glue of the commands not run (tests/test_cli_startup.py keeps those lines equal to the commands' own).
    A usage error found while parsing (a value of the wrong type for a flag, an unknown flag or command) is one line
    on stderr with exit 2, like every refusal a command makes (errors_to_exit).
    """

    lazy: ClassVar[dict[str, tuple[str, str]]] = {}  # name -> (module that registers it on `app`, one-line help)
    plugins: ClassVar[Callable[[], dict[str, Any]]] = dict  # name -> "module:typer_app" (cloudrun.commands)
    plugin_help: ClassVar[dict[str, str]] = {}  # the built-in plugin groups' one-line help

    def list_commands(self, ctx: Any) -> list[str]:
        names = [*self.lazy, *super().list_commands(ctx), *self.plugins()]
        return list(dict.fromkeys(names))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands:
            built = self._build(cmd_name)
            if built is None:
                return None
            self.commands[cmd_name] = built
        deferred_coercion.defer(self.commands[cmd_name])  # once per command (it marks what it did)
        return self.commands[cmd_name]

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The command list of `cloudrun --help`: the registered one-line help of commands not yet imported."""
        rows: list[tuple[str, Any]] = []
        for name in self.list_commands(ctx):
            short = self.lazy.get(name, (None, None))[1] or self.plugin_help.get(name)
            command = TyperCommand(name=name, help=short) if name not in self.commands and short else None
            command = command or self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command))
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in rows])

    def _build(self, name: str) -> Any:
        """Return the click command for `name`, importing the module that registers it (or its plugin) now."""
        wrapper = typer.Typer(add_completion=False, rich_markup_mode=None)
        wrapper.callback()(_no_callback)  # a group, so its one command comes out as itself under its name
        if name in self.lazy:
            importlib.import_module(self.lazy[name][0])
            wrapper.registered_commands += [i for i in app.registered_commands if _command_name(i) == name]
            wrapper.registered_groups += [i for i in app.registered_groups if i.name == name]
        elif name in self.plugins():
            from cloudrun import provider as registry

            try:
                wrapper.add_typer(registry.hook(registry.COMMANDS_GROUP, name), name=name)
            except CloudrunError as exc:  # a plugin that cannot load costs its own commands, not the others
                _err().print(f"[yellow]warning:[/yellow] `cloudrun {name}` is unavailable: {escape(str(exc))}",
                          highlight=False)  # fmt: skip
                return None
        else:
            return None
        return typer.main.get_command(wrapper).commands.get(name)  # type: ignore[attr-defined]

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        deferred_coercion.defer(self)  # the root's own flags (--version, --install-completion...) and built commands
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except Exception as exc:  # typer's own click's UsageError, BadParameter, NoSuchOption... (duck-typed:
            if not (hasattr(exc, "format_message") and hasattr(exc, "exit_code")):  # typer < 0.29 exports no base)
                raise
            if type(exc).__name__ != "NoArgsIsHelpError":  # that one is the help, printed already
                ctx = getattr(exc, "ctx", None)
                see = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
                _err().print(f"[red]error:[/red] {escape(one_line(exc.format_message()) + see)}", highlight=False)
            sys.exit(exc.exit_code)
        except typer.Abort:
            _err().print("Aborted!")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def _no_callback() -> None:
    """(the wrapper group's callback: nothing)"""


def _command_name(info: Any) -> str:
    """Return a registered command's name as typer derives it: its own, else its function's with '-' for '_'."""
    return info.name or info.callback.__name__.lower().replace("_", "-")


app = typer.Typer(
    help="Deploy an open LLM where it is cheapest after your free credits, and stop the meter when idle.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, PowerShell)
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: typer's rich panels cost more to render than the rest of `--help`
    cls=_RootGroup,
)

F = TypeVar("F", bound=Callable[..., Any])


def errors_to_exit(fn: F) -> F:
    """Turn cloudrun errors into a one-line message on stderr and their exit code; anything unexpected into one
    line too (exit 1), never a raw traceback. With --debug, the causes, request ids and traceback follow.

    The message is printed as text, never as rich markup (it may quote what the user typed: `--region "[/x]"`), and
    on one line (a cloud's own message may hold several).
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CloudrunError as exc:
            _report(f"[red]error:[/red] {escape(one_line(str(exc)))}", exc)
            raise typer.Exit(exc.exit_code) from None
        except Exception as exc:  # noqa: BLE001 - the catch-all: a bug must still read as one line
            if type(exc).__module__.startswith(("typer", "click")):
                raise  # typer's own ways out (Exit codes, usage errors, Abort), whichever click it vendors
            what = escape(one_line(f"{type(exc).__name__}: {exc}"))
            _report(f"[red]error:[/red] unexpected {what} (a bug in cloudrun: --debug shows where; please report)", exc)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def _report(line: str, exc: BaseException) -> None:
    _err().print(line, highlight=False)
    if debugging.enabled():
        _err().print(debugging.story(exc), highlight=False, markup=False)


def print_json(document: Any) -> None:
    """Print one JSON document: indented for a person at a terminal, compact (and faster) for a pipe."""
    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(json.dumps(document, indent=indent, default=str) + "\n")


def one_line(text: str) -> str:
    """Return the text with its line breaks made spaces: an error is one line, whatever it quotes."""
    return " ".join(text.split("\n")).replace("\r", " ")


def split_values(values: list[str] | None) -> list[str] | None:
    """Accept both `--provider aws --provider gcp` and `--provider aws,gcp`.

    An empty name stays in (`--provider ""`, `aws,`), for the check to refuse: dropped, it would mean "every one".
    """
    if not values:
        return None
    return [v.strip() for value in values for v in value.split(",")]


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
