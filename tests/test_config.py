"""config.toml: set/get/list/unset, precedence flag > environment > file > default, bad values refused."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from cloudrun import config
from cloudrun.cli import app

runner = CliRunner()
MODEL = "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CLOUDRUN_HOME", str(tmp_path))
    for setting in config.SETTINGS.values():
        monkeypatch.delenv(setting.env, raising=False)
    monkeypatch.delenv(config.FILE_ENV, raising=False)
    return tmp_path


def run(*args: str):
    return runner.invoke(app, list(args))


def regions(*args: str) -> set[str]:
    result = run("plan", MODEL, "--json", *args)
    assert result.exit_code == 0, result.output
    return {o["region"] for o in json.loads(result.stdout)["options"]}


def test_set_get_list_unset_round_trip(home):
    assert run("config", "set", "region", "us-east-1").exit_code == 0
    assert run("config", "get", "region").stdout.strip() == "us-east-1"
    assert (home / "config.toml").stat().st_mode & 0o777 == 0o600
    listed = {e["key"]: e for e in json.loads(run("config", "list", "--json").stdout)}
    assert listed["region"]["value"] == "us-east-1" and listed["region"]["source"] == "config"
    assert run("config", "unset", "region").exit_code == 0
    assert run("config", "get", "region").exit_code == 1


def test_flag_beats_environment_beats_file_beats_default(home, monkeypatch):
    everywhere = regions()
    run("config", "set", "region", "us-east-1")
    assert regions() == {"us-east-1"}  # the file
    monkeypatch.setenv("CLOUDRUN_REGION", "us-west-2")
    assert regions() == {"us-west-2"}  # the environment over the file
    assert regions("--region", "eastus") == {"eastus"}  # the flag over both
    assert len(everywhere) > 3


def test_account_settings_reach_the_adapters_through_their_own_variables(monkeypatch):
    run("config", "set", "gcp_project", "my-project")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "from-the-environment")
    run("plan", MODEL, "--json")
    assert os.environ["GOOGLE_CLOUD_PROJECT"] == "from-the-environment"  # an env var set by the user wins
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT")
    run("plan", MODEL, "--json")
    assert os.environ["GOOGLE_CLOUD_PROJECT"] == "my-project"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [("hours", "0", "--hours must be a positive"), ("provider", "ibm", "unknown provider 'ibm'"),
     ("ttl", "forever", "not a duration"), ("colour", "blue", "unknown setting 'colour'")],
)  # fmt: skip
def test_a_bad_value_is_refused_and_nothing_is_written(home, key, value, message):
    result = run("config", "set", key, value)
    assert result.exit_code == 2 and message in result.stderr
    assert not (home / "config.toml").exists()


def test_a_broken_file_is_one_line_exit_2(home):
    (home / "config.toml").write_text("region = \n")
    result = run("plan", MODEL)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "config.toml" in result.stderr


def test_completion_offers_recorded_deployment_names_and_creates_nothing(home):
    from decimal import Decimal

    from cloudrun.cli.deploy import deployment_names
    from cloudrun.state import StateStore
    from tests.aws_fixtures import spec

    assert deployment_names("") == [] and not (home / "state.db").exists()
    with StateStore() as state:
        for name in ("r1-qwen-7b", "r1-llama-70b", "ds-67b"):
            state.record_intent(spec(name), price_per_hour_usd=Decimal(1), price_source="test")
    assert sorted(deployment_names("r1-")) == ["r1-llama-70b", "r1-qwen-7b"]


def test_the_configuration_page_lists_every_setting_and_its_variable():
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text()
    for key, setting in config.SETTINGS.items():
        assert f"`{key}`" in page and f"`{setting.env}`" in page, key
