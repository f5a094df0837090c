"""`cloudrun --help` and `plan` start fast because they import only what they use (cloudrun.terminal._RootGroup):
the command list comes from one-line help registered beside each command, and the planner never loads the
deployment side (the state store, pydantic's records, cloudrun.api). These tests keep both true; the figures live in
benchmarks/bench_plan.py."""

import subprocess
import sys

import pytest
import typer.main

from cloudrun.cli import app
from cloudrun.terminal import _RootGroup

_LOADED = """
import sys
from cloudrun.cli import app
try:
    app({args!r})
except SystemExit:
    pass
shown = ("cloudrun", "boto", "google", "azure", "sqlalchemy", "alembic", "rich", "pydantic", "tomllib", "tomli",
         "sqlite3")
print(" ".join(sorted(m for m in sys.modules if m.startswith(shown))), file=sys.stderr)
"""
_DEPLOY_SIDE = ("cloudrun.api", "cloudrun.state.store", "cloudrun.models", "sqlalchemy", "alembic",
                "cloudrun.deployer", "cloudrun.teardown", "cloudrun.providers", "cloudrun.sandbox", "boto3", "botocore",
                "google.cloud.aiplatform", "google.auth", "azure.ai", "azure.identity", "azure.core")
# (not bare `google`: a namespace package's .pth file loads it at start)


def loaded(args, tmp_path):
    env = {"CLOUDRUN_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "CLOUDRUN_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", _LOADED.format(args=args)], capture_output=True, text=True,
                          env=env, timeout=60, check=True)  # fmt: skip
    return done.stderr.split()


def test_help_lists_every_command_without_importing_any(tmp_path):
    modules = loaded(["--help"], tmp_path)
    assert not [m for m in modules if m.startswith("cloudrun.cli.") or m.startswith(_DEPLOY_SIDE)]
    assert "rich.console" not in modules  # plain click help: the consoles are made when something prints


# What only some runs need: rich (a table), pydantic's validators (typer's coercion of a value given on the command
# line, cloudrun/deferred_coercion.py), the TOML parser (a config file), SQLite (state that exists).
_NOT_FOR_JSON = ("rich.console", "rich.table", "pydantic.main", "tomllib", "tomli", "sqlite3")


@pytest.mark.parametrize("command", ["plan", "size"])
def test_json_output_loads_no_rich_and_no_validators(tmp_path, command):
    modules = loaded([command, "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "--json"], tmp_path)
    assert "cloudrun.planning" in modules
    assert not set(_NOT_FOR_JSON) & set(modules)


@pytest.mark.parametrize("extra", [[], ["--json"]])
def test_plan_never_loads_the_deploy_side(tmp_path, extra):
    modules = loaded(["plan", "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", *extra], tmp_path)
    assert "cloudrun.planning" in modules  # it did plan
    assert not [m for m in modules if m.startswith(_DEPLOY_SIDE)]


@pytest.mark.parametrize("name", list(_RootGroup.lazy) + list(_RootGroup.plugin_help))
def test_the_listed_help_is_the_commands_own(name):
    root = typer.main.get_command(app)
    command = root.get_command(None, name)
    assert command is not None, f"{name} is listed but no module registers it"
    short = _RootGroup.lazy.get(name, (None, None))[1] or _RootGroup.plugin_help[name]
    assert short == command.get_short_help_str(1000)


def test_every_registered_command_is_listed():
    root = typer.main.get_command(app)
    for name in _RootGroup.lazy:
        root.get_command(None, name)  # imports every command module: anything they register must be in the table
    registered = {info.name or info.callback.__name__.replace("_", "-") for info in app.registered_commands}
    registered |= {info.name for info in app.registered_groups}
    assert registered <= set(_RootGroup.lazy)


def test_an_unknown_command_is_still_a_usage_error(tmp_path):
    done = subprocess.run([sys.executable, "-m", "cloudrun", "plna"], capture_output=True, text=True, timeout=60,
                          env={"CLOUDRUN_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert done.returncode == 2 and "plna" in done.stderr
