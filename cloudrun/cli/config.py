"""`cloudrun config [path|list|get|set|unset]`: your defaults in config.toml (see cloudrun/config.py)."""

from __future__ import annotations

import os

import typer

from cloudrun import config
from cloudrun.cli import tables
from cloudrun.errors import InvalidInput
from cloudrun.terminal import JsonOpt, app, errors_to_exit, out, print_json

config_app = typer.Typer(help="Your defaults (provider, region, project, workspace, role, limits): config.toml.",
                         no_args_is_help=True)  # fmt: skip
app.add_typer(config_app, name="config")
KeyArg = typer.Argument(..., help="A setting; `cloudrun config list` shows them all.")


def _known(key: str) -> str:
    if key not in config.SETTINGS:
        raise InvalidInput(f"unknown setting {key!r}", hint=f"settings: {', '.join(config.SETTINGS)}")
    return key


def _entries() -> list[dict[str, object]]:
    saved = config.load()
    entries = []
    for key, setting in config.SETTINGS.items():
        env = os.environ.get(setting.env)
        value, source = (env, f"${setting.env}") if env else (saved.get(key), "config" if key in saved else "")
        entries.append({"key": key, "value": value, "source": source, "env": setting.env, "help": setting.help})
    return entries


@config_app.command("path")
@errors_to_exit
def show_path() -> None:
    """Where the config file is (it need not exist yet)."""
    out.print(str(config.path()), highlight=False, markup=False)


@config_app.command("list")
@errors_to_exit
def list_settings(as_json: bool = JsonOpt) -> None:
    """Every setting: its value and where it comes from (a flag still wins over both)."""
    entries = _entries()
    if as_json:
        return print_json(entries)
    columns = (tables.Column("setting"), tables.Column("value"), tables.Column("from"), tables.Column("env", 2),
               tables.Column("what", 1))  # fmt: skip
    cells = [[str(e["key"]), "" if e["value"] is None else str(e["value"]), str(e["source"]), str(e["env"]),
              str(e["help"])] for e in entries]  # fmt: skip
    out.print(tables.fitted(out, columns, cells)[0])
    out.print(f"file: {config.path()}", style="dim", highlight=False, markup=False)


@config_app.command("get")
@errors_to_exit
def get(key: str = KeyArg) -> None:
    """Print one setting's value (empty when unset); exit 1 when unset."""
    entry = next(e for e in _entries() if e["key"] == _known(key))
    if entry["value"] in (None, ""):
        raise typer.Exit(1)
    out.print(str(entry["value"]), highlight=False, markup=False)


@config_app.command("set")
@errors_to_exit
def set_value(key: str = KeyArg, value: str = typer.Argument(..., help="Its value.")) -> None:
    """Save a setting (checked first: a bad value is refused and nothing is written)."""
    settings = config.load()
    settings[_known(key)] = config.check(key, value)
    out.print(f"{key} = {settings[key]} (in {config.save(settings)})", highlight=False, markup=False)


@config_app.command("unset")
@errors_to_exit
def unset(key: str = KeyArg) -> None:
    """Remove a setting from the file."""
    settings = config.load()
    if settings.pop(_known(key), None) is not None:
        config.save(settings)
    out.print(f"{key} unset", highlight=False, markup=False)
