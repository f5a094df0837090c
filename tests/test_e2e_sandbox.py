"""End to end: the installed `cloudrun` command, in its own process, against moto's server on loopback.

The server runs in this test process (cloudrun.sandbox.aws.start: GPU types, quotas, a Creating phase), so
this process can check with boto3 what each command did. Every subprocess has a timeout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from cloudrun.models import DeploymentStatus
from cloudrun.sandbox import aws
from cloudrun.sandbox.moto_lifecycle import emulate_startup
from cloudrun.state import StateStore

CLOUDRUN = Path(sys.executable).with_name("cloudrun")
MODEL = "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"
REGION = "us-east-1"
ACCOUNT = "123456789012"
TIMEOUT_S = 60

pytestmark = [pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]


@pytest.fixture
def sandbox() -> Iterator[aws.AwsSandbox]:
    server = aws.start()
    try:
        # moto's backends are per process: clear what earlier tests in this process left behind.
        urllib.request.urlopen(urllib.request.Request(f"{server.url}/moto-api/reset", method="POST"), timeout=10)
        yield server
    finally:
        server.stop()
        emulate_startup(0)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "e2e-home"


@pytest.fixture
def env(sandbox: aws.AwsSandbox, home: Path) -> dict[str, str]:
    return {**os.environ, **aws.environment(sandbox.url), "CLOUDRUN_HOME": str(home)}


@pytest.fixture
def sm(sandbox: aws.AwsSandbox) -> Any:
    return boto3.client("sagemaker", region_name=REGION, endpoint_url=sandbox.url,
                        aws_access_key_id="sandbox", aws_secret_access_key="sandbox")  # fmt: skip


def cloudrun(env: dict[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(CLOUDRUN), *args], env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    if ok:
        assert result.returncode == 0, f"cloudrun {' '.join(args)}: {result.stdout}\n{result.stderr}"
    return result


def contents(sm: Any) -> dict[str, list[str]]:
    return {
        "models": sorted(m["ModelName"] for m in sm.list_models()["Models"]),
        "configs": sorted(c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]),
        "endpoints": sorted(e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]),
    }


def tags(sm: Any, kind: str, name: str) -> dict[str, str]:
    resource_arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{name}"
    return {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=resource_arn)["Tags"]}


def make_untagged_endpoint(sm: Any, name: str) -> None:
    sm.create_model(ModelName=name, ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/mine",
                    PrimaryContainer={"Image": "img"})  # fmt: skip
    variant = {"VariantName": "v", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)


def status_rows(env: dict[str, str], *flags: str) -> dict[str, dict[str, Any]]:
    doc = json.loads(cloudrun(env, "status", *flags, "--json").stdout)
    return {row["name"]: row for row in doc["deployments"]}


def test_deploy_status_down_through_the_installed_command(env, home, sm):
    make_untagged_endpoint(sm, "handmade")

    deployed = json.loads(
        cloudrun(env, "deploy", MODEL, "--provider", "aws", "--region", REGION, "--yes", "--json").stdout
    )

    name = deployed["name"]
    assert name.startswith("r1-qwen-7b-") and deployed["status"] == "in_service"
    assert (deployed["instance_type"], deployed["price_per_hour_usd"]) == ("ml.g5.xlarge", 1.408)
    assert contents(sm) == {"models": sorted(["handmade", name]), "configs": sorted(["handmade", name]),
                            "endpoints": sorted(["handmade", name])}  # fmt: skip
    for kind in ("model", "endpoint-config", "endpoint"):
        assert tags(sm, kind, name) == {"cloudrun-managed": "true", "cloudrun-deployment": name}, kind
    with StateStore(home / "state.db") as state:
        row = state.get(name)
    assert row.status is DeploymentStatus.in_service and row.ref.endpoint_id == name

    shown = status_rows(env)[name]
    assert (shown["status"], shown["price_per_hour_usd"]) == ("in_service", 1.408)
    assert shown["cost_so_far_usd"] >= 0

    result = cloudrun(env, "down", name, "--yes")

    assert f"removed {name}" in result.stdout
    assert contents(sm) == {"models": ["handmade"], "configs": ["handmade"], "endpoints": ["handmade"]}
    assert sm.describe_endpoint(EndpointName="handmade")["EndpointStatus"] == "InService"
    assert status_rows(env) == {}


def test_sandbox_demo_runs_the_whole_cycle(tmp_path):
    env = {**os.environ, "CLOUDRUN_HOME": str(tmp_path / "demo-home")}
    result = subprocess.run([str(CLOUDRUN), "sandbox", "demo"], env=env, capture_output=True, text=True,
                            timeout=TIMEOUT_S)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sandbox cycle done" in result.stdout
    assert "deployed, called and removed r1-qwen-7b-" in result.stdout


def test_a_deploy_killed_while_waiting_stays_recorded_and_can_be_removed(env, home, sm):
    emulate_startup(120)  # new endpoints stay Creating; the sandbox fixture resets it
    command = [str(CLOUDRUN), "deploy", MODEL, "--provider", "aws", "--region", REGION, "--name", "r1-killed", "--yes"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        row = wait_for_status(home / "state.db", "r1-killed", DeploymentStatus.creating, proc)
        assert row.ref is not None
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert sm.describe_endpoint(EndpointName="r1-killed")["EndpointStatus"] == "Creating"

    shown = status_rows(env, "--refresh")
    assert shown["r1-killed"]["status"] == "creating" and shown["r1-killed"]["endpoint"] == "r1-killed"

    cloudrun(env, "down", "r1-killed", "--yes")
    assert contents(sm) == {"models": [], "configs": [], "endpoints": []}
    with StateStore(home / "state.db") as state:
        assert state.get("r1-killed").status is DeploymentStatus.deleted


def wait_for_status(path: Path, name: str, status: DeploymentStatus, proc: subprocess.Popen) -> Any:
    """Return the row once it has `status`, polling the state file the other process writes."""
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"deploy exited early with {proc.returncode}"
        if path.exists():
            with StateStore(path) as state:
                row = state.get(name)
            if row is not None and row.status is status:
                return row
        time.sleep(0.1)
    raise AssertionError(f"{name} never became {status.value}")
