"""`cloudrun deploy / status / down / check` through typer's CliRunner, with moto in process.

The contract checked here: --json prints exactly one JSON document on stdout (progress goes to stderr),
bad input exits 2 with one line, nothing is created without confirmation or on --dry-run, and a state file
this version cannot read is reported and left untouched.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from cloudrun import paths
from cloudrun.cli import app
from cloudrun.sandbox.moto_lifecycle import emulate_startup
from cloudrun.sandbox.moto_quotas import emulate_sagemaker_quotas
from cloudrun.sandbox.moto_types import widen_instance_types
from cloudrun.state import StateStore
from tests.aws_fixtures import REGION, ROLE_ARN

MODEL = "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"
WHERE = ["--provider", "aws", "--region", REGION]
DEPLOYED_FIELDS = {"name", "provider", "service", "region", "instance_type", "status", "price_per_hour_usd",
                   "endpoint", "cost_so_far_usd"}  # fmt: skip

runner = CliRunner()


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """moto in process with fake credentials and a given execution role; endpoints InService at once."""
    fake = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": str(tmp_path / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "CLOUDRUN_SAGEMAKER_ROLE_ARN": ROLE_ARN}  # fmt: skip
    for name, value in fake.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    widen_instance_types()
    emulate_sagemaker_quotas()
    emulate_startup(0)
    with mock_aws():
        yield


def run(*args: str):
    return runner.invoke(app, list(args))


def one_json_document(result) -> dict | list:
    """Return stdout parsed as JSON; json.loads refuses anything before or after one document."""
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def one_line_error(result, exit_code: int) -> str:
    assert result.exit_code == exit_code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert result.stdout == ""
    return lines[0]


def cloud_contents() -> dict[str, int]:
    sm = boto3.client("sagemaker", region_name=REGION)
    return {
        "models": len(sm.list_models()["Models"]),
        "configs": len(sm.list_endpoint_configs()["EndpointConfigs"]),
        "endpoints": len(sm.list_endpoints()["Endpoints"]),
    }


def recorded() -> list:
    with StateStore() as state:
        return state.list(include_deleted=True)


def deploy(name: str = "r1-cli") -> dict:
    return one_json_document(run("deploy", MODEL, *WHERE, "--name", name, "--yes", "--json"))


NOTHING = {"models": 0, "configs": 0, "endpoints": 0}


def test_deploy_json_is_one_document_with_the_deployment(cloud):
    result = run("deploy", MODEL, *WHERE, "--name", "r1-cli", "--yes", "--json")

    doc = one_json_document(result)
    assert set(doc) >= DEPLOYED_FIELDS
    assert {k: doc[k] for k in ("name", "provider", "service", "region", "instance_type", "status", "endpoint")} == {
        "name": "r1-cli", "provider": "aws", "service": "sagemaker", "region": REGION,
        "instance_type": "ml.g5.xlarge", "status": "in_service", "endpoint": "r1-cli",
    }  # fmt: skip
    assert doc["price_per_hour_usd"] == 1.408
    assert "r1-cli" in result.stderr  # the plan and progress went to stderr
    assert cloud_contents() == {"models": 1, "configs": 1, "endpoints": 1}
    assert [(d.name, d.status.value) for d in recorded()] == [("r1-cli", "in_service")]


def test_dry_run_prints_the_requests_and_creates_nothing(cloud):
    doc = one_json_document(run("deploy", MODEL, *WHERE, "--name", "r1-dry", "--dry-run", "--json"))

    assert (doc["name"], doc["dry_run"]) == ("r1-dry", True)
    assert [r["operation"] for r in doc["requests"]] == ["create_model", "create_endpoint_config", "create_endpoint"]
    assert doc["requests"][1]["params"]["ProductionVariants"][0]["InstanceType"] == "ml.g6.xlarge"  # cheapest first
    assert doc["requests"][2]["params"]["EndpointName"] == "r1-dry"
    assert cloud_contents() == NOTHING
    assert recorded() == []


def test_deploy_without_yes_and_without_a_terminal_creates_nothing(cloud):
    result = run("deploy", MODEL, *WHERE, "--name", "r1-ask")

    assert result.exit_code != 0
    assert "pass --yes" in result.stderr
    assert cloud_contents() == NOTHING
    assert recorded() == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "Bad_Name"], "deployment name 'Bad_Name' is not allowed"),
        (["--cheapest", "--instance-type", "ml.g5.xlarge"], "--cheapest chooses the instance type itself"),
        (["--instance-type", "ml.z9.huge"], "ml.z9.huge is not in the catalog"),
    ],
)
def test_bad_input_exits_2_with_one_line(cloud, args, message):
    line = one_line_error(run("deploy", MODEL, *WHERE, *args, "--yes", "--json"), exit_code=2)
    assert message in line
    assert cloud_contents() == NOTHING


def test_a_model_that_does_not_fit_the_instance_type_exits_2(cloud):
    result = run("deploy", "deepseek-ai/deepseek-llm-67b-chat", *WHERE, "--instance-type", "ml.g5.xlarge", "--yes")
    line = one_line_error(result, exit_code=2)
    assert "does not fit ml.g5.xlarge" in line
    assert cloud_contents() == NOTHING


def test_status_json_shows_price_and_cost_so_far(cloud):
    deploy()

    doc = one_json_document(run("status", "--json"))

    assert doc["reconciled"] is None  # no --refresh: state only
    (row,) = doc["deployments"]
    assert (row["name"], row["status"], row["price_per_hour_usd"]) == ("r1-cli", "in_service", 1.408)
    assert isinstance(row["cost_so_far_usd"], float) and 0 <= row["cost_so_far_usd"] < 0.01


def test_down_json_removes_it(cloud):
    deploy()

    doc = one_json_document(run("down", "r1-cli", "--yes", "--json"))

    assert (doc["name"], doc["status"]) == ("r1-cli", "deleted") and doc["deleted_at"]
    assert cloud_contents() == NOTHING
    assert one_json_document(run("status", "--json"))["deployments"] == []


def test_down_of_an_unknown_name_exits_4(cloud):
    line = one_line_error(run("down", "never-deployed", "--yes"), exit_code=4)
    assert "no deployment named 'never-deployed'" in line


def test_check_json_lists_every_provider(cloud):
    results = {r["provider"]: r for r in one_json_document(run("check", "--json"))}

    assert set(results) == {"aws", "gcp", "azure"}
    assert results["aws"]["credentials_ok"] is True and "123456789012" in results["aws"]["identity"]
    for other in ("gcp", "azure"):
        assert results[other]["credentials_ok"] is False and results[other]["detail"]


def test_check_with_no_usable_provider_exits_3_and_names_each_extra(tmp_path, monkeypatch):
    from cloudrun import provider

    missing = {name: "sdk_that_is_not_installed.adapter:Provider" for name in ("aws", "gcp", "azure")}
    monkeypatch.setattr(provider, "_registries", {provider.ENTRY_POINT_GROUP: missing})
    monkeypatch.setenv("CLOUDRUN_HOME", str(tmp_path))
    result = runner.invoke(app, ["check"], terminal_width=200)
    assert result.exit_code == 3
    for name in ("aws", "gcp", "azure"):  # the extra survives rich's markup, which would read [aws] as a tag
        assert f"pip install 'cloudrun-llm[{name}]'" in result.stdout


def test_a_state_file_from_a_newer_version_is_refused_and_left_untouched(cloud):
    path = paths.state_path()
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE future (x)")
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    before = path.read_bytes()

    result = run("status", "--json")

    line = one_line_error(result, exit_code=1)
    assert "newer cloudrun (schema 99" in line and "CLOUDRUN_HOME" in line
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["state.db"]


def test_debug_shows_the_cause_and_request_id_behind_the_one_line(cloud):
    from cloudrun.sandbox.moto_metrics import emulate_invocation_metrics

    emulate_invocation_metrics()  # the runtime refuses a missing endpoint, as SageMaker's does
    deploy("r1-dbg")
    boto3.client("sagemaker", region_name=REGION).delete_endpoint(EndpointName="r1-dbg")  # gone behind our back

    plain = run("invoke", "r1-dbg", "hi")
    assert one_line_error(plain, exit_code=4)  # without --debug: one line

    from cloudrun import debugging

    try:
        result = run("--debug", "invoke", "r1-dbg", "hi")
    finally:
        debugging.disable()
    assert result.exit_code == 4
    lines = result.stderr.strip().splitlines()  # the SDKs' log lines, then the error and its story
    at = next(i for i, line in enumerate(lines) if line.startswith("error: "))
    first, story = lines[at], lines[at + 1 :]
    assert "r1-dbg" in first
    assert any(line.startswith("caused by botocore.exceptions.ClientError") and "request id" in line for line in story)
    assert any("Traceback" in line for line in story)


def test_an_unexpected_error_is_one_line_and_debug_shows_where():
    import typer

    from cloudrun.terminal import errors_to_exit

    broken = typer.Typer()

    @broken.command()
    @errors_to_exit
    def boom() -> None:
        {}["missing"]

    result = runner.invoke(broken, [])
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert "unexpected KeyError: 'missing'" in result.stderr and "--debug" in result.stderr
