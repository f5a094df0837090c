"""A team on one PostgreSQL database (docs/team.md): two CLOUDROUN_HOMEs, as two laptops, each running the
`cloudrun` command with CLOUDRUN_DATABASE_URL on the server's loopback port, see each other's deployments, owners
and credit burn; and `deploy --owner` is checked before anything is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).parent / "cloudrun"

DEPLOY_AS = """
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from cloudrun.models import DeploySpec, EndpointRef, Precision
from cloudrun.state import StateStore
name, owner, price = sys.argv[1:]
spec = DeploySpec(name=name, model_id="deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", provider="aws", service="sagemaker",
                  region="us-east-1", instance_type="ml.g5.2xlarge", gpu_count=1, tensor_parallel=1, context=4096,
                  precision=Precision.bf16)
start = datetime.now(timezone.utc) - timedelta(hours=2)
with StateStore() as store:  # CLOUDRUN_DATABASE_URL, as every command reads it
    store.record_intent(spec, price_per_hour_usd=Decimal(price), price_source="test", owner=owner, now=start)
    store.mark_creating(name, EndpointRef(provider="aws", region="us-east-1", name=name, endpoint_id=name), now=start)
    store.mark_ready(name, now=start)
"""


def run(home: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a command as the member whose home it is (the OS user getpass reads first: LOGNAME)."""
    env = {**os.environ, "CLOUDRUN_HOME": str(home), "CLOUDRUN_DATABASE_URL": url, "LOGNAME": home.name}
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=120, check=False)


@pytest.fixture
def shared_url(postgres_server) -> str:
    """A database of its own, named by its TCP loopback URL (as a laptop would name the team's server)."""
    unix_url = postgres_server.database()
    name = unix_url.split("@/")[1].split("?")[0]
    return postgres_server.url(name, tcp=True)


def test_two_homes_on_one_database_see_each_others_deployments_and_burn(tmp_path: Path, shared_url: str) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    for home, owner, price in ((alice, "alice", "1.50"), (bob, "bob", "2.50")):
        done = run(home, shared_url, sys.executable, "-c", DEPLOY_AS, f"{owner}-ep", owner, price)
        assert done.returncode == 0, done.stderr
    added = run(alice, shared_url, str(SCRIPT), "credits", "add", "--provider", "aws", "--amount", "1000",
                "--starts", "2020-01-01", "--expires", "2099-01-01", "--gpu-eligible", "--services", "sagemaker",
                "--name", "team", "--json")  # fmt: skip
    assert added.returncode == 0, added.stderr

    for home in (alice, bob):
        mine = run(home, shared_url, str(SCRIPT), "status", "--json")
        assert mine.returncode == 0, mine.stderr
        assert [row["name"] for row in json.loads(mine.stdout)["deployments"]] == [f"{home.name}-ep"]
        everyone = run(home, shared_url, str(SCRIPT), "status", "--all-users", "--json")
        assert everyone.returncode == 0, everyone.stderr
        document = json.loads(everyone.stdout)
        assert {row["name"]: row["owner"] for row in document["deployments"]} == {"alice-ep": "alice", "bob-ep": "bob"}
        costs = {o["owner"]: (o["deployments"], o["usd_per_hour"], o["cost_so_far_usd"]) for o in document["owners"]}
        assert {owner: cost[:2] for owner, cost in costs.items()} == {"alice": (1, 1.5), "bob": (1, 2.5)}
        assert 2.9 < costs["alice"][2] < 3.2 and 4.9 < costs["bob"][2] < 5.2  # two hours each so far
        ledger = run(home, shared_url, str(SCRIPT), "credits", "--json")
        assert ledger.returncode == 0, ledger.stderr
        (team,) = json.loads(ledger.stdout)["grants"]
        assert team["burn_usd_per_hour"] == 4.0  # both members' endpoints burn the one grant
        assert team["burn_by_owner"] == {"alice": 1.5, "bob": 2.5}
        assert 7.9 < team["estimated_charges_usd"] < 8.5
    table = run(bob, shared_url, str(SCRIPT), "status", "--all-users")
    assert "alice: 1 deployment, $1.500/h" in table.stdout and "alice-ep (alice)" in table.stdout
    text = run(bob, shared_url, str(SCRIPT), "credits")
    assert "team burn by owner: alice $1.500/h, bob $2.500/h" in text.stdout
    assert not (alice / "state.db").exists() and not (bob / "state.db").exists()  # no SQLite file on the side


def test_a_home_without_a_url_keeps_its_own_sqlite_file(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CLOUDRUN_DATABASE_URL"}
    env["CLOUDRUN_HOME"] = str(tmp_path)
    done = subprocess.run([str(SCRIPT), "status", "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "state.db").exists()


@pytest.mark.parametrize(("url", "message"), [
    ("mysql://x@h/db", "'mysql' is not a database cloudrun can use"),
    ("postgresql://x@h:port/db", "CLOUDRUN_DATABASE_URL: Port could not be cast"),
    ("postgresql://x@h:5432", "the URL names no database"),
    ("sqlite://", "a SQLite URL needs a file path"),
])  # fmt: skip
def test_a_bad_database_url_is_one_line_and_exit_2(tmp_path: Path, url: str, message: str) -> None:
    done = run(tmp_path, url, str(SCRIPT), "status")
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and len(done.stderr.strip().splitlines()) <= 2
    assert not (tmp_path / "state.db").exists()


def test_config_toml_keeps_no_database_password(tmp_path: Path) -> None:
    env = {**os.environ, "CLOUDRUN_HOME": str(tmp_path)}
    refused = subprocess.run([str(SCRIPT), "config", "set", "database_url", "postgresql://team:s3cret@db/cloudrun"],
                             capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
    assert refused.returncode == 2 and "holds a password" in refused.stderr and "pgpass" in refused.stderr
    assert not (tmp_path / "config.toml").exists()
    kept = subprocess.run([str(SCRIPT), "config", "set", "database_url", "postgresql://team@db/cloudrun"],
                          capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
    assert kept.returncode == 0, kept.stderr
    assert 'database_url = "postgresql://team@db/cloudrun"' in (tmp_path / "config.toml").read_text()


def test_an_unreachable_server_is_one_line_naming_it_without_its_password(tmp_path: Path) -> None:
    done = run(tmp_path, "postgresql://team:s3cret@127.0.0.1:1/cloudrun", str(SCRIPT), "status")
    assert done.returncode == 1
    assert "state database postgresql://team:***@127.0.0.1:1/cloudrun cannot be reached" in done.stderr
    assert "s3cret" not in done.stderr
