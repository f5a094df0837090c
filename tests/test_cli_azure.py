"""`cloudrun azure build-image`: the wrapper image Azure ML needs, one command, with a fake `az` on PATH."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from typer.testing import CliRunner

from cloudrun.cli import app

runner = CliRunner()


def fake_az(tmp_path: Path, exit_code: int = 0) -> Path:
    """An `az` that records its arguments and the Dockerfile it was given, and exits with `exit_code`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "az"
    script.write_text(
        f"#!{sys.executable}\n"
        "import pathlib, sys\n"
        f"pathlib.Path({str(tmp_path / 'az-args')!r}).write_text(' '.join(sys.argv[1:]))\n"
        f"sys.exit({exit_code})\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def test_dry_run_prints_the_dockerfile_and_the_command_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["azure", "build-image", "--registry", "myregistry", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert (
        "FROM vllm/vllm-openai:v0.11.0" in result.stdout
        and 'exec vllm serve \\"$M\\" $VLLM_ARGS' in result.stdout and 'M=\\"$VLLM_MODEL\\"' in result.stdout
    )
    assert "az acr build --registry myregistry --image cloudrun/vllm-wrapper:v0.11.0-r2 DIR" in result.stdout
    assert "CLOUDRUN_AZUREML_IMAGE=myregistry.azurecr.io/cloudrun/vllm-wrapper:v0.11.0-r2" in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_builds_with_acr_tasks_and_says_what_to_set(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", f"{fake_az(tmp_path)}{os.pathsep}{os.environ['PATH']}")
    build = tmp_path / "build"
    result = runner.invoke(app, ["azure", "build-image", "--registry", "myregistry", "--output", str(build), "--yes"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "az-args").read_text().split() == [
        "acr", "build", "--registry", "myregistry", "--image", "cloudrun/vllm-wrapper:v0.11.0-r2", str(build)
    ]  # fmt: skip
    assert (build / "Dockerfile").read_text().startswith("FROM vllm/vllm-openai:v0.11.0")
    assert "export CLOUDRUN_AZUREML_IMAGE=myregistry.azurecr.io/cloudrun/vllm-wrapper:v0.11.0-r2" in result.stdout


def test_a_failed_build_and_bad_input_exit_non_zero_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", f"{fake_az(tmp_path, exit_code=1)}{os.pathsep}{os.environ['PATH']}")
    failed = runner.invoke(app, ["azure", "build-image", "--registry", "myregistry", "--yes"])
    assert failed.exit_code == 1 and "az acr build` failed" in failed.output
    bad = runner.invoke(app, ["azure", "build-image", "--registry", "my.azurecr.io", "--yes"])
    assert bad.exit_code == 2 and "not an Azure Container Registry name" in bad.output


def test_without_the_azure_cli_it_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no `az` anywhere
    result = runner.invoke(app, ["azure", "build-image", "--registry", "myregistry", "--yes"])
    assert result.exit_code == 1 and "Azure CLI (`az`) is not installed" in result.output
    assert "az acr build --registry myregistry" in result.stdout
