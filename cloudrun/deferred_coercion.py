"""Typer's coercion of a command's values, built only for a value that needs it.

Since 0.29, typer coerces every parameter's value through a pydantic `TypeAdapter` it builds while parsing
(typer/_coercion.py `build_runtime_param`, called from typer/core.py `_TyperParameter.process_value`): for each
option, given or not, about a millisecond, and the first one imports pydantic's validation modules (~40 ms). `plan`
has 22 options; a user who gives two of them paid for all 22 and for pydantic, more than the planning itself.

`defer(command)` gives each of a command's parameters typer's own coercion, built the first time a value needs it.
A value that already is what the adapter would return is passed on untouched, exactly as the adapter returns it:
None (typer returns None, or `()` for a list, before any adapter: `RuntimeParam.coerce`), and, for a parameter
with no bounds, parser or choices, a str, int or float of its own type (typer's adapters for those return the
value itself) or a sequence of them for a `list[str]` (or int, float; typer's list adapter coerces each item into a
list: `--provider aws` is `["aws"]`). Everything else, every
value typed on the command line among them, goes through the adapter typer builds, so its messages and
conversions are typer's (tests/test_deferred_coercion.py compares both on every command's parameters).

Typer before 0.29 (no `typer._coercion`) coerces with click's types and has nothing to defer: `defer` does nothing.
"""

from __future__ import annotations

import functools
from typing import Any

_PLAIN = (str, int, float)


@functools.cache
def _deferred_class() -> Any:
    """Return the RuntimeParam subclass that builds typer's own on first need, or None when typer has no such layer."""
    try:
        from dataclasses import dataclass

        from typer._coercion import RuntimeParam, build_runtime_param
    except ImportError:  # typer < 0.29: click's types, no pydantic adapters
        return None

    @dataclass(frozen=True)
    class Deferred(RuntimeParam):  # type: ignore[misc]
        descriptor: Any

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if passes_through(self.descriptor, value):
                return list(value) if isinstance(value, (list, tuple)) else value
            param._runtime_param = built = build_runtime_param(self.descriptor)
            return built._coerce_value(value, param=param, ctx=ctx)

    return Deferred


def passes_through(descriptor: Any, value: Any) -> bool:
    """True when typer's adapter for this parameter would return `value` itself (a sequence: as a list)."""
    info = descriptor.parameter_info
    if info.parser is not None or getattr(info, "click_type", None) is not None or descriptor.choices is not None:
        return False
    if info.min is not None or info.max is not None:
        return False
    annotation = descriptor.annotation
    if descriptor.is_list:  # typer's list adapter coerces each item with the item type's adapter, into a list
        items = getattr(annotation, "__args__", ())
        return isinstance(value, (list, tuple)) and (
            not value or (len(items) == 1 and items[0] in _PLAIN and all(type(v) is items[0] for v in value))
        )
    return annotation in _PLAIN and type(value) is annotation


def defer(command: Any) -> None:
    """Let every parameter of `command` (and of its subcommands) build its coercion when a value first needs it.

    Through the command's `get_params`, the list its parsing walks: its `--help` option is made there, on first use.
    """
    if _deferred_class() is None or getattr(command, "_cloudrun_deferred", False):
        return
    own = command.get_params

    def get_params(ctx: Any) -> list[Any]:
        params = own(ctx)
        for param in params:
            _defer_param(param)
        return params

    command.get_params = get_params
    command._cloudrun_deferred = True
    for sub in getattr(command, "commands", {}).values():
        defer(sub)


def _defer_param(param: Any) -> None:
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is not None and getattr(param, "_runtime_param", False) is None:
        param._runtime_param = _deferred_class()(
            parameter_info=descriptor.parameter_info, annotation=descriptor.annotation, descriptor=descriptor
        )
