"""`cloudrun metrics`: the exporter's output, parsed with prometheus-client's own parser, and the alert rules."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from moto import mock_aws
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from cloudrun import api
from cloudrun.cli import app
from cloudrun.providers.aws import SageMakerProvider
from cloudrun.sandbox.moto_types import widen_instance_types
from cloudrun.state import StateStore, limits
from cloudrun.teardown import exporter
from tests.aws_fixtures import REGION, ROLE_ARN, put_invocations, spec

RULES = Path(__file__).resolve().parent.parent / "templates" / "prometheus-rules.yml"


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": str(tmp_path / "none"),
                       "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
                       "AWS_EC2_METADATA_DISABLED": "true"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    widen_instance_types()
    with mock_aws():
        yield


def record(state: StateStore, name: str, age: timedelta, price: str = "1.5") -> None:
    at = datetime.now(timezone.utc) - age
    state.record_intent(spec(name), price_per_hour_usd=Decimal(price), price_source="test", now=at)
    state.mark_creating(name, SageMakerProvider(role_arn=ROLE_ARN).create(spec(name)), now=at)
    state.mark_ready(name, now=at)


def samples(text: str) -> dict[tuple[str, str], float]:
    """Return {(metric name, its name/grant label): value} from exposition text."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name, sample.labels.get("name", sample.labels.get("grant", ""))] = sample.value
    return found


@pytest.fixture
def fleet(moto: None) -> None:
    with StateStore() as state:
        record(state, "busy", timedelta(hours=2))
        record(state, "quiet", timedelta(hours=2), price="4")
        limits.set_limits(state, "busy", max_spend=Decimal(20))
        _add_credit(state)
    put_invocations("busy", 3, minutes_ago=3)


def _add_credit(state: StateStore) -> None:
    ledger = pytest.importorskip("cloudrun.credits.ledger")
    runway = pytest.importorskip("cloudrun.credits.runway")
    now = datetime.now(timezone.utc)
    grant = runway.LedgerGrant(id="g1", provider="aws", name="activate", amount_usd=Decimal(100),
                               starts_at=now - timedelta(days=1), expires_at=now + timedelta(days=30),
                               services=("sagemaker",), gpu_eligible=True, created_at=now)  # fmt: skip
    ledger.Ledger(state).add(grant)


def test_metrics_once_prints_every_metric_the_issue_names(fleet: None) -> None:
    result = CliRunner().invoke(app, ["metrics", "--once"])
    assert result.exit_code == 0, result.output
    found = samples(result.stdout)
    assert found["cloudrun_deployments_up", ""] == 2
    assert found["cloudrun_deployment_up", "busy"] == 1
    assert found["cloudrun_deployment_price_usd_per_hour", "quiet"] == 4
    assert found["cloudrun_deployment_cost_usd", "quiet"] == pytest.approx(8, abs=0.01)  # $4/h for 2 h
    assert found["cloudrun_deployment_max_spend_usd", "busy"] == 20
    assert found["cloudrun_deployment_minutes_since_last_invocation", "busy"] == 5  # called within 5 minutes
    assert found["cloudrun_deployment_minutes_since_last_invocation", "quiet"] == pytest.approx(120, abs=1)
    assert found["cloudrun_month_cost_usd", ""] > 0
    assert found["cloudrun_credit_remaining_usd", "activate"] == pytest.approx(100, abs=20)
    assert 0 < found["cloudrun_credit_runway_hours", "activate"] <= 30 * 24


def test_unknown_invocation_metrics_leave_the_series_out(fleet: None) -> None:
    def denied(service: str, region: str):  # noqa: ANN202 - a client factory
        import boto3

        client = boto3.client(service, region_name=region)
        client.meta.events.register("before-call.cloudwatch.GetMetricStatistics", _raise_denied)
        return client

    collector = exporter.CloudrunCollector(StateStore, lambda _: SageMakerProvider(client_factory=denied))
    found = samples(exporter.exposition(collector))
    assert ("cloudrun_deployment_minutes_since_last_invocation", "busy") not in found
    assert found["cloudrun_deployment_up", "busy"] == 1


def _raise_denied(**_: object) -> None:
    from botocore.exceptions import ClientError

    raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetMetricStatistics")


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_the_exporter_serves_metrics_over_http(fleet: None) -> None:
    collector = exporter.CloudrunCollector(StateStore, api.provider_loader())
    server, thread = exporter.serve(collector, 0)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/metrics", timeout=10) as response:  # noqa: S310
            text = response.read().decode()
    finally:
        server.shutdown()
        thread.join(5)
    assert samples(text)["cloudrun_deployments_up", ""] == 2


def test_alert_rules_parse_and_use_only_exported_metrics(fleet: None) -> None:
    yaml = pytest.importorskip("yaml")
    rules = yaml.safe_load(RULES.read_text())
    alerts = {rule["alert"]: rule["expr"] for group in rules["groups"] for rule in group["rules"]}
    assert {"CloudrunEndpointIdle", "CloudrunCreditRunwayUnder24h", "CloudrunSpendOverCap"} <= set(alerts)
    exported = {name for name, _ in samples(CliRunner().invoke(app, ["metrics", "--once"]).stdout)}
    used = {name for expr in alerts.values() for name in re.findall(r"\bcloudrun_[a-z_]+\b", str(expr))}
    assert used and used <= exported, used - exported
