"""What an install gets: the version flag that can never swallow a command, floors that match the lowest-versions run,
one version source, the license, the typing marker, the extras, the price cache's folder, and what the sdist and the
wheel contain (built here, offline, with the installed setuptools)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from typer.testing import CliRunner

import cloudrun
from cloudrun.cli import _version, app

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10 (the lowest-versions run): pytest brings tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
VERSION_LINE = f"cloudrun {cloudrun.__version__}"
# sha256 of the Apache License 2.0 as the ASF publishes it (LICENSE-2.0.txt), unmodified.
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"


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


# --- floors: pyproject and constraints-lowest.txt say the same -----------------------------------------------------


def _floors() -> dict[str, Version]:
    """Every requirement pyproject declares (core and extras, not the self-references), by name: its floor."""
    project = PYPROJECT["project"]
    texts = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        texts.extend(extra)
    floors: dict[str, str] = {}
    for text in texts:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        if name == "cloudrun-llm":
            continue
        specs = list(requirement.specifier)
        assert len(specs) == 1 and specs[0].operator == ">=", f"{text}: one floor (>=) and no cap, please"
        assert floors.get(name, Version(specs[0].version)) == Version(specs[0].version), f"{name}: two floors"
        floors[name] = Version(specs[0].version)
    return floors


def _pins() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "constraints-lowest.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = Version(version.strip())
    return pins


def test_constraints_lowest_pins_exactly_the_floors_of_pyproject():
    assert _pins() == _floors()


def test_requests_is_declared_by_every_extra_whose_code_imports_it():
    importers = {"gcp": ["gcp_client.py", "gcp_metrics.py"], "azure": ["azure_client.py", "azure_credits.py"]}
    for extra, files in importers.items():
        assert any("requests" in (ROOT / "providers" / f).read_text() for f in files)
        names = {canonicalize_name(Requirement(t).name) for t in PYPROJECT["project"]["optional-dependencies"][extra]}
        assert "requests" in names, f"[{extra}] imports requests and must declare it"
