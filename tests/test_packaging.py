"""What an install gets: the version flag that can never swallow a command, floors that match the lowest-versions run,
one version source, the license, the typing marker, the extras, the price cache's folder, and what the sdist and the
wheel contain (built here, offline, with the installed setuptools)."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import platformdirs
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from typer.testing import CliRunner

import cloudrun
from cloudrun import catalog_cache, paths
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


def test_all_is_for_production_and_leaves_the_sandbox_to_dev():
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert "sandbox" not in extras["all"][0] and "moto" not in str(extras["all"])
    assert {"all", "sandbox"} <= set(Requirement(extras["dev"][0]).extras)


# --- metadata and files --------------------------------------------------------------------------------------------


def test_one_version_source():
    assert "version" not in PYPROJECT["project"] and "version" in PYPROJECT["project"]["dynamic"]
    assert importlib.metadata.version("cloudrun-llm") == cloudrun.__version__


def test_license_is_the_unmodified_apache_2_text_and_declared_as_spdx():
    assert hashlib.sha256((ROOT / "LICENSE").read_bytes()).hexdigest() == APACHE_2_SHA256
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]


def test_the_package_is_marked_typed():
    assert (ROOT / "cloudrun" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["cloudrun"]


# --- the price cache: the platform's cache folder, or under CLOUDRUN_HOME -------------------------------------------


@pytest.fixture
def user_folders(tmp_path, monkeypatch):
    """No CLOUDRUN_HOME: the platform's folders, pointed into tmp_path."""
    monkeypatch.delenv("CLOUDRUN_HOME")
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda name: str(tmp_path / "data" / name))
    monkeypatch.setattr(platformdirs, "user_cache_dir", lambda name: str(tmp_path / "cache" / name))
    return tmp_path


def test_with_cloudrun_home_the_cache_stays_under_it():
    assert catalog_cache.cache_dir() == Path(os.environ["CLOUDRUN_HOME"]) / "catalog"


def test_without_cloudrun_home_the_cache_is_in_the_user_cache_folder(user_folders):
    assert catalog_cache.cache_dir() == user_folders / "cache" / "cloudrun" / "catalog"
    assert paths.home() == user_folders / "data" / "cloudrun"  # the state stays in the data folder


def test_a_cache_an_earlier_release_left_in_the_data_folder_is_moved_once(user_folders):
    old = user_folders / "data" / "cloudrun" / "catalog"
    old.mkdir(parents=True)
    (old / "aws.csv").write_text("provider\n")
    (old / "meta.json").write_text('{"providers": {"aws": {"refreshed_at": "2026-11-01T00:00:00+00:00"}}}')
    assert catalog_cache.read_meta() == {"aws": {"refreshed_at": "2026-11-01T00:00:00+00:00"}}
    new = user_folders / "cache" / "cloudrun" / "catalog"
    assert (new / "aws.csv").is_file() and not old.exists()
    assert catalog_cache.refreshed_at("aws") is not None


def test_an_old_cache_that_cannot_be_moved_is_read_where_it_is(user_folders, monkeypatch):
    old = user_folders / "data" / "cloudrun" / "catalog"
    old.mkdir(parents=True)
    (old / "meta.json").write_text('{"providers": {"gcp": {"refreshed_at": "2026-11-01T00:00:00+00:00"}}}')

    def refuse(*args, **kwargs):
        raise PermissionError("read-only")

    monkeypatch.setattr(os, "rename", refuse)
    monkeypatch.setattr(shutil, "copytree", refuse)
    assert catalog_cache.cache_dir() == old and "gcp" in catalog_cache.read_meta()


# --- the sdist and the wheel ---------------------------------------------------------------------------------------

JUNK = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "*.pyc")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Build the sdist and the wheel from a copy of the tree with the installed setuptools (no network)."""
    tree = tmp_path_factory.mktemp("tree") / "src"
    shutil.copytree(ROOT, tree, ignore=JUNK)
    out = tree.parent / "dist"
    script = (
        "import sys; from setuptools import build_meta as b;"
        f"s = b.build_sdist({str(out)!r}); w = b.build_wheel({str(out)!r}); print('BUILT', s, w)"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=tree, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    sdist_name, wheel_name = next(line for line in done.stdout.splitlines() if line.startswith("BUILT")).split()[1:]
    with tarfile.open(out / sdist_name) as sdist:
        sdist_files = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    with zipfile.ZipFile(out / wheel_name) as wheel:
        wheel_files = set(wheel.namelist())
        metadata = next(wheel.read(n).decode() for n in wheel_files if n.endswith(".dist-info/METADATA"))
    return sdist_files, wheel_files, metadata


def test_the_wheel_has_the_license_the_marker_and_the_data_and_no_tests(built):
    _, wheel, metadata = built
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in wheel)
    assert "cloudrun/py.typed" in wheel
    for data in ("cloudrun/data/offers.csv", "cloudrun/data/gpus.csv", "cloudrun/data/quantized.json",
                 "cloudrun/data/models/deepseek-v3.json", "cloudrun/templates/sagemaker-lmi.json",
                 "cloudrun/templates/gpu_shapes.csv", "cloudrun/templates/prometheus-rules.yml",
                 "cloudrun/providers/aws.py", "cloudrun/sandbox/cli.py"):  # fmt: skip
        assert data in wheel, data
    assert not any(n.startswith("tests/") for n in wheel)
    assert f"Version: {cloudrun.__version__}" in metadata and "License-Expression: Apache-2.0" in metadata
    assert "Provides-Extra: sandbox" in metadata and "Classifier: Typing :: Typed" in metadata


def test_the_sdist_is_a_source_release_whose_tests_have_what_they_read(built):
    sdist, _, _ = built
    for needed in ("LICENSE", "pyproject.toml", "MANIFEST.in", "constraints-lowest.txt", "Makefile", "README.md",
                   "cloudrun/py.typed", "cloudrun/data/offers.csv", "templates/prometheus-rules.yml",
                   "tests/conftest.py", "tests/aws_fixtures.py", "tests/gcp_fixtures.py", "tests/factories.py",
                   "docs/cli.md", "docs/catalog.md", "scripts/gen_cli_docs.py"):  # fmt: skip
        assert needed in sdist, needed
    fixtures = {p.relative_to(ROOT).as_posix() for p in (ROOT / "tests" / "data").rglob("*") if p.is_file()}
    assert fixtures and fixtures <= sdist
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in sdist)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in sdist)


@pytest.mark.parametrize("command", [["sandbox", "demo"], ["sandbox", "start"]])
def test_without_the_sandbox_extra_the_sandbox_says_what_to_install(command, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "moto" else real(name, *a))
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 2
    assert "needs moto" in result.output and "pip install 'cloudrun-llm[sandbox]'" in result.output
