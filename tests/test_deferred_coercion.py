"""Deferred coercion (cloudrun/deferred_coercion.py) must give what typer's own gives, for every parameter of every
command: the same value, or the same error. And it must defer: `plan` with its options left alone never imports
pydantic's validation modules, which typer >= 0.29 loads for its first adapter."""

import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from cloudrun import deferred_coercion
from cloudrun.cli import app
from cloudrun.terminal import _RootGroup

VALUES = [None, (), [], ("us-east-1",), ["a", "b"], ("1", "2"), (1, 2), (1, "a"), [2.5], "", "1", "2.5", "-3",
          "abc", "bf16", "aws", "true", "2026-01-01", 1, 0, -1, 2.5, 24.0, True, False]  # fmt: skip


def every_command():
    root = typer.main.get_command(app)
    stack = [(root, "cloudrun")] + [(root.get_command(None, n), n) for n in [*_RootGroup.lazy, *_RootGroup.plugin_help]]
    while stack:
        command, name = stack.pop()
        if command is None:
            continue
        yield name, command
        stack += [(sub, f"{name} {n}") for n, sub in getattr(command, "commands", {}).items()]


def outcome(runtime, value, param, ctx):
    try:
        return ("value", type(got := runtime.coerce(value, param=param, ctx=ctx)), got)
    except Exception as exc:  # noqa: BLE001 - the error itself is what is compared
        return ("error", type(exc), str(getattr(exc, "message", exc)))


def test_every_parameter_coerces_as_typer_does(tmp_path, monkeypatch):
    coercion = pytest.importorskip("typer._coercion", reason="typer < 0.29 has no adapter layer to defer")
    monkeypatch.chdir(tmp_path)  # path options check what exists: the same, empty, folder for both
    (tmp_path / "1").write_text("")
    deferred = deferred_coercion._deferred_class()
    compared = passed = 0
    for name, command in every_command():
        ctx = typer.main.click.Context(command) if hasattr(typer.main, "click") else command.context_class(command)
        for param in command.get_params(ctx):
            descriptor = getattr(param, "type_descriptor", None)
            if descriptor is None:
                continue
            for value in VALUES:
                own = outcome(coercion.build_runtime_param(descriptor), value, param, ctx)
                lazy = deferred(parameter_info=descriptor.parameter_info, annotation=descriptor.annotation,
                                descriptor=descriptor)  # fmt: skip
                if deferred_coercion.passes_through(descriptor, value):
                    passed += 1
                assert outcome(lazy, value, param, ctx) == own, (name, param.name, value)
                compared += 1
    assert compared > 1000 and passed > 50  # every command's parameters, and values that skip the adapter


def test_defer_is_a_no_op_without_typers_adapter_layer():
    command = typer.main.get_command(app).get_command(None, "plan")
    if deferred_coercion._deferred_class() is None:
        assert not getattr(command, "_cloudrun_deferred", False)
    else:
        assert command._cloudrun_deferred


_RUN = """
import sys
from cloudrun.cli import app
try:
    app({args!r})
except SystemExit as exc:
    code = exc.code
print(code, " ".join(sorted(m for m in sys.modules if m.startswith("pydantic."))), file=sys.stderr)
"""


def run(args, home: Path):
    env = {"CLOUDRUN_HOME": str(home), "PATH": "/usr/bin:/bin", "CLOUDRUN_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", _RUN.format(args=args)], capture_output=True, text=True, env=env,
                          timeout=60)  # fmt: skip
    *_, last = done.stderr.strip().splitlines()
    code, *modules = last.split()
    return int(code), modules, done


MODEL = "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"


@pytest.mark.parametrize("extra", [[], ["--json"], ["--provider", "aws"]])
def test_plan_with_defaults_never_loads_pydantics_validators(tmp_path, extra):
    code, modules, _ = run(["plan", MODEL, *extra], tmp_path)
    assert code == 0
    assert not {"pydantic.main", "pydantic.types", "pydantic.fields"} & set(modules)


def test_a_value_typed_on_the_command_line_is_still_typers_to_coerce(tmp_path):
    code, _, done = run(["plan", MODEL, "--hours", "48", "--json"], tmp_path)
    assert code == 0 and '"hours": 48.0' in done.stdout
    code, _, done = run(["plan", MODEL, "--hours", "abc"], tmp_path)
    assert code == 2 and "Invalid value for '--hours'" in done.stderr
    code, _, done = run(["plan", MODEL, "--precision", "fp9"], tmp_path)
    assert code == 2 and "'fp9' is not one of" in done.stderr
