"""History that cannot go backwards, failed commands that leave nothing behind, and a process that stays on this
machine with private files (issue "Hardening", parts 4 and 5).

- A gone row (deleted, vanished) is final; `vanished` comes only from a live status; a row found gone while its
  delete was asked is deleted, not vanished; events are stamped when the change happens, in order.
- The concurrency mix of the issue (4 `down`, 3 `teardown`, 2 `down --all`, 1 `watch` at once, as processes on one
  state file against moto's server) leaves every endpoint removed and every history moving forward only.
- A failed deploy leaves no limits (only an event saying so).
- A tampered sandbox server.json is refused before any connection; folders are private under `umask 000`;
  DefaultAzureCredential's failure is reported once (as cloudrun's error), not also as a block of log lines.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import urllib.request
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from moto.sagemaker.models import sagemaker_backends

from cloudrun import api, paths
from cloudrun.errors import CloudrunError, InvalidInput
from cloudrun.models import DeploymentStatus
from cloudrun.providers.aws import SageMakerProvider
from cloudrun.sandbox import aws as sandbox_aws
from cloudrun.sandbox import session
from cloudrun.sandbox.moto_types import widen_instance_types
from cloudrun.state import StateStore
from tests.aws_fixtures import ACCOUNT, REGION, ROLE_ARN, fake_credentials, spec

FORWARD = {  # the statuses a row may move to from each one; gone ones are final
    DeploymentStatus.intent: set(DeploymentStatus) - {DeploymentStatus.intent},
    DeploymentStatus.creating: set(DeploymentStatus) - {DeploymentStatus.intent, DeploymentStatus.creating},
    DeploymentStatus.in_service: {DeploymentStatus.failed, DeploymentStatus.deleting, DeploymentStatus.deleted,
                                  DeploymentStatus.vanished},
    DeploymentStatus.failed: {DeploymentStatus.deleting, DeploymentStatus.deleted, DeploymentStatus.vanished},
    DeploymentStatus.deleting: {DeploymentStatus.deleted, DeploymentStatus.vanished, DeploymentStatus.in_service,
                                DeploymentStatus.failed, DeploymentStatus.creating},  # a failed delete gives it back
    DeploymentStatus.deleted: set(),
    DeploymentStatus.vanished: set(),
}  # fmt: skip


def test_a_gone_row_is_final_and_later_writers_change_nothing(tmp_path):
    with StateStore(tmp_path / "s.db") as state:
        state.record_intent(spec("one"), price_per_hour_usd=Decimal(1), price_source="test")
        state.mark_failed("one", "no capacity")
        state.mark_deleting("one")
        deleted = state.mark_deleted("one", reason="down")
        events = len(state.events("one"))
        assert state.mark_vanished("one", reason="a reconcile that read the cloud late") == deleted
        assert state.mark_failed("one", "a deploy that lost its endpoint") == deleted
        assert state.get("one").status is DeploymentStatus.deleted and len(state.events("one")) == events


# --- the concurrency mix ---------------------------------------------------------------------------------


def run(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "cloudrun", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def assert_moves_forward(state: StateStore, name: str) -> None:
    """Every status change in the row's history is a move FORWARD allows, and the stamps never go back."""
    events = state.events(name)
    stamps = [event["at"] for event in events]
    assert stamps == sorted(stamps), (name, events)
    for event in events:
        detail = event["detail"].split(":", 1)[0]
        if " -> " in detail:
            before, after = (DeploymentStatus(part.strip()) for part in detail.split(" -> ", 1))
            assert after in FORWARD[before], (name, event)


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_ten_commands_at_once_remove_everything_and_rewrite_no_history(tmp_path, monkeypatch):
    fake_credentials(monkeypatch, tmp_path, CLOUDRUN_SAGEMAKER_ROLE_ARN=ROLE_ARN)
    widen_instance_types()
    server = sandbox_aws.start()
    names = [f"mix-{i}" for i in range(6)]
    try:
        for key, value in sandbox_aws.environment(server.url).items():
            monkeypatch.setenv(key, value)
        home = tmp_path / "home"
        monkeypatch.setenv("CLOUDRUN_HOME", str(home))
        adapter = SageMakerProvider(role_arn=ROLE_ARN, sleep=lambda _: None)
        with StateStore() as state:
            for name in names:
                state.record_intent(spec(name), price_per_hour_usd=Decimal(1), price_source="test")
                state.mark_creating(name, adapter.create(spec(name)))
                state.mark_ready(name)
                endpoint = sagemaker_backends[ACCOUNT][REGION].endpoints[name]
                endpoint.creation_time -= timedelta(hours=2)  # old enough for --idle 30m, never called
        env = dict(os.environ)
        commands = [("down", names[i % 3], "--yes", "--json") for i in range(4)]
        commands += [("teardown", "--idle", "30m", "--yes", "--json")] * 3
        commands += [("down", "--all", "--yes", "--json")] * 2 + [("watch", "--once", "--idle", "30m", "--json")]
        procs = [run(env, *command) for command in commands]
        outcomes = [(proc.wait(timeout=180), proc.stderr.read()) for proc in procs]
        assert all("Traceback" not in stderr for _, stderr in outcomes), outcomes
        # 4: a `down NAME` of a name another run removed first; 5: one another run was deleting at that moment
        assert all(code in (0, 1, 4, 5) for code, _ in outcomes), outcomes
        assert not sagemaker_backends[ACCOUNT][REGION].endpoints  # every endpoint removed
        with StateStore() as state:
            for name in names:
                assert state.get(name).status is DeploymentStatus.deleted, state.events(name)
                assert_moves_forward(state, name)
    finally:
        request = urllib.request.Request(f"{server.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - loopback
            pass
        server.stop()


# --- the machine: loopback first, private folders, quiet credential probes -----------------------------------


def test_a_tampered_sandbox_file_is_refused_before_any_connection(tmp_path, monkeypatch):
    monkeypatch.setenv("CLOUDRUN_HOME", str(tmp_path))
    home = session.sandbox_home()
    (home / session.SERVER_FILE).write_text(json.dumps({"aws": "http://203.0.113.7:5000", "pid": 1}))
    connected: list[Any] = []
    monkeypatch.setattr("socket.create_connection", lambda *a, **k: connected.append(a))
    with pytest.raises(InvalidInput, match="not on this machine"):
        session.enter()
    assert connected == []


@pytest.mark.skipif(os.name != "posix", reason="file modes")
def test_folders_are_private_whatever_the_umask(tmp_path, monkeypatch):
    monkeypatch.setenv("CLOUDRUN_HOME", str(tmp_path / "a" / "b" / "home"))
    old = os.umask(0)
    try:
        state_db = paths.state_path()
        with StateStore(state_db):
            pass
    finally:
        os.umask(old)
    for folder in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "home"):
        assert folder.stat().st_mode & 0o777 == 0o700, folder
    assert state_db.stat().st_mode & 0o777 == 0o600


def test_a_failed_azure_credential_chain_logs_nothing_of_its_own(caplog):
    from azure.core.credentials import AccessToken
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import ChainedTokenCredential

    from cloudrun.providers.azure_client import default_credential

    class Unavailable:
        def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            raise ClientAuthenticationError("no credential here")

    default_credential()  # what every Azure command makes; it quiets the chain's failure log
    with caplog.at_level(logging.WARNING), pytest.raises(ClientAuthenticationError):
        ChainedTokenCredential(Unavailable()).get_token("https://management.azure.com/.default")
    assert [r for r in caplog.records if r.name.startswith("azure.identity")] == []


def test_a_failed_deploy_leaves_no_limits_only_an_event(tmp_path, monkeypatch):
    from cloudrun.state import limits

    fake_credentials(monkeypatch, tmp_path)
    monkeypatch.setenv("CLOUDRUN_HOME", str(tmp_path / "home"))
    plan = api.prepare_deploy("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", cheapest=True, provider="aws",
                              name="doomed", hours=1, ttl="8h")  # fmt: skip

    def unusable(name: str) -> Any:
        raise InvalidInput(f"{name}: not in this test")

    with StateStore() as state:
        with pytest.raises(CloudrunError, match="no placement could be deployed"):
            api.deploy(plan, state, unusable)
        assert limits.limits(state, "doomed") == limits.Limits()
        assert state.get("doomed") is None
        assert [e["detail"] for e in state.events("doomed")][-1].startswith("dropped: the deploy failed")
