"""SageMaker idle evidence: Invocations over every variant an endpoint has, never a guess.

moto in process, taught by the sandbox to publish Invocations per call and to match CloudWatch dimension sets
exactly (as CloudWatch does); botocore's Stubber for the shapes moto cannot produce.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from cloudrun.models import EndpointRef
from cloudrun.providers.aws import SageMakerProvider
from cloudrun.sandbox.moto_metrics import emulate_invocation_metrics
from cloudrun.sandbox.moto_types import widen_instance_types
from tests.aws_fixtures import ACCOUNT, REGION, ROLE_ARN, T0, StubbedAws, endpoint_record, fake_credentials

NAME = "busy"


@pytest.fixture
def moto_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    fake_credentials(monkeypatch, tmp_path)
    widen_instance_types()
    emulate_invocation_metrics()
    with mock_aws():
        yield


def endpoint(name: str = NAME, variants: tuple[str, ...] = ("AllTraffic",)) -> EndpointRef:
    """An endpoint as the SageMaker Python SDK or the console makes it: variants named as they like."""
    sm = boto3.client("sagemaker", region_name=REGION)
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE_ARN, PrimaryContainer={"Image": "img"})
    production = [{"VariantName": v, "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.g5.xlarge",
                   "InitialVariantWeight": 1.0} for v in variants]  # fmt: skip
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=production)
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    return EndpointRef(provider="aws", region=REGION, name=name, endpoint_id=name)


def put(name: str, variant: str, count: float, minutes_ago: float) -> None:
    dimensions = [{"Name": "EndpointName", "Value": name}, {"Name": "VariantName", "Value": variant}]
    at = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[{"MetricName": "Invocations", "Dimensions": dimensions, "Value": count, "Timestamp": at}],
    )


def an_hour_ago() -> datetime:
    return datetime.now(timezone.utc) - timedelta(hours=1)


def adapter(**options) -> SageMakerProvider:
    return SageMakerProvider(role_arn=ROLE_ARN, sleep=lambda _: None, deadline_s=1, **options)


def test_a_busy_endpoint_on_a_variant_not_named_main_is_counted(moto_aws):
    ref = endpoint(variants=("AllTraffic",))
    put(NAME, "AllTraffic", 30, minutes_ago=3)
    put(NAME, "AllTraffic", 30, minutes_ago=2)
    # What the first cut asked for (VariantName=main) finds nothing: CloudWatch matches dimension sets exactly.
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    only_main = cloudwatch.get_metric_statistics(
        Namespace="AWS/SageMaker", MetricName="Invocations", Period=60, Statistics=["Sum"],
        StartTime=an_hour_ago(), EndTime=datetime.now(timezone.utc),
        Dimensions=[{"Name": "EndpointName", "Value": NAME}, {"Name": "VariantName", "Value": "main"}],
    )  # fmt: skip
    assert only_main["Datapoints"] == []
    assert adapter().invocations(ref, an_hour_ago()) == 60


def test_traffic_split_over_two_variants_is_added_up(moto_aws):
    ref = endpoint(variants=("blue", "green"))
    put(NAME, "blue", 4, minutes_ago=10)
    put(NAME, "green", 6, minutes_ago=5)
    assert adapter().invocations(ref, an_hour_ago()) == 10


def test_a_variant_replaced_within_the_window_still_counts(moto_aws):
    ref = endpoint(variants=("green",))
    put(NAME, "blue", 9, minutes_ago=20)  # served by the variant the last update replaced (ListMetrics knows it)
    assert adapter().invocations(ref, an_hour_ago()) == 9


def test_no_datapoints_on_any_variant_means_no_calls(moto_aws):
    ref = endpoint(variants=("AllTraffic",))
    put(NAME, "AllTraffic", 5, minutes_ago=120)  # before the window
    assert adapter().invocations(ref, an_hour_ago()) == 0


def test_calls_through_the_runtime_are_counted_like_sagemaker_counts_them(moto_aws):
    ref = endpoint(variants=("AllTraffic",))
    runtime = boto3.client("sagemaker-runtime", region_name=REGION)
    for i in range(3):
        answer = runtime.invoke_endpoint(EndpointName=NAME, Body=f'{{"n": {i}}}', ContentType="application/json")
        assert answer["InvokedProductionVariant"] == "AllTraffic"
    assert adapter().invocations(ref, an_hour_ago()) == 3


def test_a_call_in_the_first_second_of_a_minute_is_counted_by_a_query_in_that_second(moto_aws):
    """CloudWatch's EndTime is exclusive at its own precision; moto truncates it to the second, which dropped a
    datapoint stamped with the minute when the query came in the same second (a flaky 0 in the suite)."""
    from cloudrun.providers import aws_metrics

    endpoint(variants=("AllTraffic",))
    boto3.client("sagemaker-runtime", region_name=REGION).invoke_endpoint(EndpointName=NAME, Body="{}")
    minute = datetime.now(timezone.utc).replace(second=0, microsecond=0)  # the datapoint's stamp, as SageMaker's
    provider = adapter()
    at_the_boundary = minute + timedelta(milliseconds=400)
    assert aws_metrics.endpoint_invocations(provider._call, REGION, NAME, an_hour_ago(), at_the_boundary) == 1


def test_the_runtime_refuses_an_endpoint_that_does_not_exist(moto_aws):
    from botocore.exceptions import ClientError

    runtime = boto3.client("sagemaker-runtime", region_name=REGION)
    with pytest.raises(ClientError, match=f"Endpoint nowhere of account {ACCOUNT} not found"):
        runtime.invoke_endpoint(EndpointName="nowhere", Body="{}")


def test_an_endpoint_that_is_gone_is_unknown_not_idle(moto_aws):
    ref = EndpointRef(provider="aws", region=REGION, name="gone", endpoint_id="gone")
    provider = adapter()
    assert provider.invocations(ref, an_hour_ago()) is None
    assert any("invocations of gone unknown" in notice for notice in provider.notices)


# --- shapes moto cannot produce: Stubber ------------------------------------------------------------------


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[SageMakerProvider, StubbedAws]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    fake = StubbedAws()
    yield SageMakerProvider(client_factory=fake, role_arn=ROLE_ARN, sleep=lambda _: None, deadline_s=1), fake
    fake.assert_all_used()


def ref_of(name: str = "ds-67b") -> EndpointRef:
    return EndpointRef(provider="aws", region=REGION, name=name, endpoint_id=name)


def test_a_datapoint_without_a_sum_is_unknown(stubbed):
    provider, fake = stubbed
    fake.stub("sagemaker").add_response("describe_endpoint", endpoint_record())
    fake.stub("cloudwatch").add_response("list_metrics", {"Metrics": []})
    fake.stub("cloudwatch").add_response("get_metric_statistics", {"Datapoints": [{"Timestamp": T0, "Unit": "None"}]})
    assert provider.invocations(ref_of(), T0 - timedelta(hours=1)) is None


def test_an_endpoint_without_variants_is_unknown(stubbed):
    provider, fake = stubbed
    record = {k: v for k, v in endpoint_record().items() if k != "ProductionVariants"}
    fake.stub("sagemaker").add_response("describe_endpoint", record)
    fake.stub("cloudwatch").add_response("list_metrics", {"Metrics": []})
    assert provider.invocations(ref_of(), T0 - timedelta(hours=1)) is None


def test_a_metrics_outage_is_unknown_after_our_retries(stubbed):
    _, fake = stubbed
    provider = SageMakerProvider(client_factory=fake, role_arn=ROLE_ARN, sleep=lambda _: None, deadline_s=0)
    fake.stub("sagemaker").add_response("describe_endpoint", endpoint_record())
    fake.stub("cloudwatch").add_response("list_metrics", {"Metrics": []})
    fake.stub("cloudwatch").add_client_error("get_metric_statistics", "ServiceUnavailable", "try later", 503)
    assert provider.invocations(ref_of(), T0 - timedelta(hours=1)) is None


def test_variants_of_an_update_under_way_are_counted_too(stubbed):
    provider, fake = stubbed
    pending = {"EndpointConfigName": "next", "ProductionVariants": [{"VariantName": "new"}]}
    record = {**endpoint_record(status="Updating"), "PendingDeploymentSummary": pending}
    fake.stub("sagemaker").add_response("describe_endpoint", record)
    fake.stub("cloudwatch").add_response("list_metrics", {"Metrics": []})
    for variant, total in (("main", 2.0), ("new", 5.0)):
        expected = {"Namespace": "AWS/SageMaker", "MetricName": "Invocations", "StartTime": T0 - timedelta(hours=1),
                    "Dimensions": [{"Name": "EndpointName", "Value": "ds-67b"},
                                   {"Name": "VariantName", "Value": variant}]}  # fmt: skip
        fake.stub("cloudwatch").add_response(
            "get_metric_statistics", {"Datapoints": [{"Timestamp": T0, "Sum": total}]},
            {**expected, "EndTime": _Any(), "Period": _Any(), "Statistics": ["Sum"]},
        )  # fmt: skip
    assert provider.invocations(ref_of(), T0 - timedelta(hours=1)) == 7


class _Any:
    def __eq__(self, other: object) -> bool:
        return True
