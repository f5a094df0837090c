"""Write docs/cli.md from the commands themselves (their help, arguments and options).

Usage, from the repository root: python scripts/gen_cli_docs.py
tests/test_docs.py fails when docs/cli.md differs from what this prints, so the docs match `--help`.
"""

from __future__ import annotations

import inspect
import sys
import types
import typing
from enum import Enum
from pathlib import Path
from typing import Any

import typer.main

from cloudrun.cli import app

HEADER = """# Command reference

Generated from the commands' own help by `python scripts/gen_cli_docs.py`; `cloudrun COMMAND --help`
shows the same text. Exit codes: 0 success, 1 error, 2 bad input (nothing was done), 3 credentials,
4 not found, 5 conflict, 6 quota or capacity, 130 interrupted.
"""


# typer ships its own copy of click, so commands and parameters are recognised by shape, not by class.
Command = Any


def _is_group(command: Command) -> bool:
    return hasattr(command, "commands")


def _is_argument(param: Any) -> bool:
    return param.param_type_name == "argument"


def _walk(command: Command, path: list[str]) -> list[tuple[list[str], Command]]:
    found = [(path, command)]
    if _is_group(command):  # the root's commands are imported when asked for (cloudrun.terminal._RootGroup)
        for name in sorted(command.list_commands(None)):
            found.extend(_walk(command.get_command(None, name), [*path, name]))
    return found


def _annotation(command: Command, param: Any) -> Any:
    """The parameter's declared type, None-ness removed (`Path | None` is a path)."""
    descriptor = getattr(param, "type_descriptor", None)  # recent typer keeps the declared type on the parameter
    if descriptor is not None:
        return descriptor.annotation
    # typer 0.26 (the floor) keeps it only on the function: read the command's own signature.
    annotation = typing.get_type_hints(inspect.unwrap(command.callback))[param.name]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next(arg for arg in typing.get_args(annotation) if arg is not type(None))
    return annotation


def _type_name(command: Command, param: Any) -> str:
    annotation = _annotation(command, param)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return " \\| ".join(member.value for member in annotation)
    return getattr(annotation, "__name__", str(annotation)).lower()


def _param_row(command: Command, param: Any) -> str:
    if _is_argument(param):
        name = (param.name or "").upper()
        kind = "argument" + ("" if param.required else ", optional")
    else:
        name = ", ".join(f"`{o}`" for o in param.opts + param.secondary_opts)
        kind = "flag" if getattr(param, "is_flag", False) else _type_name(command, param)
    default = param.default if param.default not in (None, False, ()) and not callable(param.default) else ""
    default = default.value if isinstance(default, Enum) else default
    text = (getattr(param, "help", None) or "").replace("|", "\\|")
    shown = f"`{name}`" if _is_argument(param) else name
    return f"| {shown} | {kind} | {default} | {text} |"


def render() -> str:
    root = typer.main.get_command(app)
    parts = [HEADER]
    for path, command in _walk(root, ["cloudrun"]):
        if _is_group(command) and not command.params:
            continue
        params = [p for p in command.params if p.name != "help"]
        parts.append(f"## `{' '.join(path)}`\n")
        parts.append(((command.help or "").strip() or "(no description)") + "\n")
        if params:
            parts.append("| argument / option | kind | default | meaning |\n|---|---|---|---|")
            parts.extend(_param_row(command, p) for p in params)
            parts.append("")
    return "\n".join(parts).rstrip() + "\n"


if __name__ == "__main__":
    target = Path("docs/cli.md")
    target.write_text(render())
    sys.stdout.write(f"wrote {target}\n")
