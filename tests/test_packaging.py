"""What an install gets: the version flag that can never swallow a command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cloudrun
from cloudrun.cli import _version, app

VERSION_LINE = f"cloudrun {cloudrun.__version__}"


# --- --version never turns a command into "print the version and exit 0" ----------------------------------------


def test_version_prints_only_when_asked():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == VERSION_LINE


@pytest.mark.parametrize("value", [False, None, "False", "", 0])
def test_the_version_callback_ignores_anything_but_true(value):
    # typer 0.12.5 under click >= 8.2.2 passes the string "False" for an unset flag: truthy, and it used to exit here.
    assert _version(value) is None


def test_watch_once_with_no_state_runs_and_does_not_print_the_version():
    result = CliRunner().invoke(app, ["watch", "--once"])
    assert result.exit_code == 0, result.output
    assert VERSION_LINE not in result.output and "no deployments" in result.output


@pytest.mark.parametrize("command", [["teardown", "--help"], ["watch", "--help"], ["deploy", "--help"]])
def test_help_of_the_installed_command_is_help_not_the_version(command, tmp_path):
    cloudrun_bin = Path(sys.executable).with_name("cloudrun")
    env = dict(os.environ, CLOUDRUN_HOME=str(tmp_path), CLOUDRUN_OFFLINE="1")
    done = subprocess.run([str(cloudrun_bin), *command], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert VERSION_LINE not in done.stdout and "Usage:" in done.stdout
