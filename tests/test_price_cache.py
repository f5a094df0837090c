"""`catalog refresh`'s cache: written only by a refresh that fetched something valid, per provider and region; the
planner's choice between it and the bundled snapshot (the newer wins); and the `catalog` commands. The fetchers
themselves: tests/test_pricing.py. Sockets stay disabled (pytest-socket): nothing here can reach a real cloud.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from botocore.stub import Stubber
from typer.testing import CliRunner

from cloudrun import catalog, catalog_cache
from cloudrun.cli import app
from cloudrun.errors import Transient
from cloudrun.pricing import refresh, shapes, validate
from cloudrun.pricing.validate import PriceRow
from cloudrun.providers import aws_prices as aws
from cloudrun.providers import azure_prices as azure
from tests.pricing_fixtures import NOW, TODAY, price_row, pricing_client, recorded

# --- refresh and the cache ---------------------------------------------------------------------------


def _offers_fetcher(*offers_by_region):
    def fetch(regions, today):
        rows = [price_row("azure", region, "Standard_NC24ads_A100_v4", price) for region, price in offers_by_region]
        return validate.check([r for r in rows if not regions or r.region in regions], shapes.for_provider("azure"))

    return fetch


def _failing_fetcher(regions, today):
    raise Transient("prices.azure.com: connection reset after page 3")


def test_refresh_writes_the_cache_and_meta_and_a_failed_refresh_keeps_it():
    first = refresh.refresh(["azure"], fetchers={"azure": _offers_fetcher(("eastus", "3.5"))}, now=NOW)
    path = catalog_cache.provider_file("azure")
    assert first.providers[0].rows_written == 1 and first.providers[0].cache_file == path
    before = path.read_text()
    assert catalog_cache.refreshed_at("azure") == NOW
    later = datetime(2026, 12, 5, tzinfo=timezone.utc)
    report = refresh.refresh(["azure"], fetchers={"azure": _failing_fetcher}, now=later)
    assert report.all_failed and "connection reset" in report.providers[0].error
    assert path.read_text() == before and catalog_cache.refreshed_at("azure") == NOW
    assert not list(path.parent.glob("*.tmp"))


def test_a_fetch_with_no_valid_row_keeps_the_previous_cache():
    refresh.refresh(["azure"], fetchers={"azure": _offers_fetcher(("eastus", "3.5"))}, now=NOW)
    report = refresh.refresh(["azure"], fetchers={"azure": _offers_fetcher(("eastus", "0"))}, now=NOW)
    assert "no valid price" in report.providers[0].error and report.providers[0].rejected
    assert catalog.offers(providers=["azure"], regions=["eastus"])[0].price_per_hour_usd == Decimal("3.5")


def test_aws_failing_part_way_through_pagination_keeps_the_previous_aws_cache():
    refresh.refresh(["azure"], fetchers={"azure": _offers_fetcher(("eastus", "3.5"))}, now=NOW)
    client = pricing_client()
    with Stubber(client) as stub:
        stub.add_response("get_products", recorded("aws_get_products_page1.json"))
        stub.add_client_error("get_products", "AccessDeniedException", "denied", 400)

        def aws_fetch(regions, today):
            return aws.fetch(regions, client_factory=lambda service, region: client, today=today)

        fetchers = {"aws": aws_fetch, "gcp": _failing_fetcher, "azure": _offers_fetcher(("eastus", "3.6"))}
        report = refresh.refresh(fetchers=fetchers, now=NOW)
    results = {item.provider: item for item in report.providers}
    assert not results["aws"].ok and not catalog_cache.provider_file("aws").exists()
    assert results["azure"].ok and not report.all_failed
    assert "connection reset" in results["gcp"].error


def test_refresh_by_region_keeps_the_cached_rows_of_other_regions():
    fetcher = _offers_fetcher(("eastus", "3.5"), ("westeurope", "4.0"))
    refresh.refresh(["azure"], fetchers={"azure": fetcher}, now=NOW)
    refresh.refresh(["azure"], ["eastus"], fetchers={"azure": _offers_fetcher(("eastus", "3.4"))}, now=NOW)
    prices = {o.region: o.price_per_hour_usd for o in catalog.load_csv(catalog_cache.provider_file("azure"))}
    assert prices == {"eastus": Decimal("3.4"), "westeurope": Decimal("4.0")}


def test_refresh_rejects_regions_no_chosen_provider_has():
    from cloudrun.errors import InvalidInput

    with pytest.raises(InvalidInput, match="us-east-1"):
        refresh.regions_by_provider(["azure"], ["us-east-1"])
    assert refresh.regions_by_provider(None, ["us-east-1"]) == {"aws": ["us-east-1"]}


# --- the planner prefers the cache only when it is newer ---------------------------------------------


def _write_cache(provider_offers, when):
    catalog_cache.write_provider("azure", provider_offers, when)


def _azure_cache_row(price):
    row = price_row("azure", "eastus", "Standard_NC24ads_A100_v4", price)
    result = validate.check([row], shapes.for_provider("azure"))
    return result.offers


def test_planner_uses_a_cache_newer_than_the_snapshot_and_says_so():
    _write_cache(_azure_cache_row("3.1"), NOW)
    found = {o.instance_type: o for o in catalog.offers(providers=["azure"], regions=["eastus"])}
    assert found["Standard_NC24ads_A100_v4"].price_per_hour_usd == Decimal("3.1")
    assert set(found) == {"Standard_NC24ads_A100_v4"}  # the cache replaces the provider's snapshot rows
    assert any(o.provider == "aws" for o in catalog.offers())  # other providers still from the snapshot
    label = catalog.source_label()
    assert "price cache" in label and "for azure" in label and "bundled snapshot offers.csv for aws, gcp" in label


def test_planner_ignores_a_cache_older_than_the_snapshot():
    # the bundled SageMaker us-east-1 prices are as of 2026-09-27: a cache refreshed before that loses
    cached = validate.check([price_row("aws", "us-east-1", "ml.g5.xlarge", "1.0")], shapes.for_provider("aws")).offers
    catalog_cache.write_provider("aws", cached, datetime(2026, 1, 1, tzinfo=timezone.utc))
    found = catalog.offers(providers=["aws"], regions=["us-east-1"])
    assert len(found) > 1 and all(o.source != "test" for o in found)
    assert catalog.source_label().startswith("bundled snapshot offers.csv (")


def test_a_cache_of_any_date_beats_a_provider_whose_bundled_prices_are_all_undated():
    assert {o.as_of for o in catalog.bundled() if o.provider == "azure"} == {catalog.UNDATED}
    _write_cache(_azure_cache_row("3.1"), datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert [o.source for o in catalog.offers(providers=["azure"], regions=["eastus"])] == ["test"]


def test_catalog_file_overrides_the_cache(tmp_path):
    _write_cache(_azure_cache_row("3.1"), NOW)
    own = tmp_path / "own.csv"
    own.write_text(
        ",".join(catalog.COLUMNS) + "\naws,sagemaker,us-east-1,ml.g5.xlarge,A10G,1,24,4,16,1.0,,mine,2026-11-01\n"
    )
    assert [o.source for o in catalog.offers(catalog_path=own)] == ["mine"]


@pytest.mark.parametrize("as_of, ok", [("undated", True), ("", True), ("2026-11-01", True), ("yesterday", False),
                                       ("20261101", False)])  # fmt: skip
def test_fetched_rows_may_be_undated_but_not_misdated(as_of, ok):
    row = PriceRow("azure", "eastus", "Standard_NC24ads_A100_v4", Decimal("3.1"), "test", as_of)
    result = validate.check([row], shapes.for_provider("azure"))
    if ok:
        (offer,) = result.offers
        assert offer.as_of == (as_of or "undated")
    else:
        (rejection,) = result.rejected
        assert "as_of" in rejection.reason and "undated" in rejection.reason


def test_catalog_show_says_undated_and_marks_it_old():
    undated = validate.check([PriceRow("azure", "eastus", "Standard_NC24ads_A100_v4", Decimal("3.1"), "test",
                                       "undated")], shapes.for_provider("azure")).offers  # fmt: skip
    _write_cache(undated, NOW)
    result = runner.invoke(app, ["catalog", "show", "--provider", "azure", "--json"])
    assert result.exit_code == 0, result.output
    (offer,) = json.loads(result.output)["offers"]
    assert offer["as_of"] == "undated" and offer["age_days"] is None


def test_price_age_days():
    offers = _azure_cache_row("3.1")
    assert catalog.price_age_days(offers, date(2026, 12, 1)) == 30


# --- the commands ------------------------------------------------------------------------------------

runner = CliRunner()


def test_catalog_show_lists_cached_offers_with_source_and_age():
    _write_cache(_azure_cache_row("3.1"), NOW)
    result = runner.invoke(app, ["catalog", "show", "--provider", "azure", "--gpu", "a100", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    (offer,) = document["offers"]
    assert offer["source"] == "test" and offer["age_days"] >= 0 and "price cache" in document["catalog"]


@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_catalog_refresh_exits_non_zero_when_every_provider_fails():
    # Sockets are disabled: the real Azure fetcher fails, and the command says so.
    result = runner.invoke(app, ["catalog", "refresh", "--provider", "azure", "--json"])
    assert result.exit_code == 1
    (report,) = json.loads(result.output)["providers"]
    assert report["provider"] == "azure" and not report["ok"]
    assert "no cache yet: plans keep using the bundled snapshot" in report["error"]  # there was no cache to keep


def test_plan_reports_price_age_and_never_touches_the_network_or_price_fetchers(tmp_path):
    probe = (
        "import sys, json; from cloudrun.cli import app; from typer.testing import CliRunner;"
        "r = CliRunner().invoke(app, ['plan', 'deepseek-ai/deepseek-llm-7b-chat', '--json']);"
        "assert r.exit_code == 0, r.output; doc = json.loads(r.output);"
        "t = CliRunner().invoke(app, ['plan', 'deepseek-ai/deepseek-llm-7b-chat', '--provider', 'gcp']);"
        "print(json.dumps({'oldest': doc['prices_oldest_as_of'], 'warned': 'catalog refresh' in t.output,"
        "'loaded': [m for m in sys.modules if m.startswith(('cloudrun.pricing', 'boto3', 'urllib.request'))]}))"
    )
    env = {"CLOUDRUN_HOME": str(tmp_path), "CLOUDRUN_OFFLINE": "1", "PATH": "/usr/bin:/bin", "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["oldest"] == "undated" and report["warned"]  # the snapshot has undated rows: they count as old
    assert [m for m in report["loaded"] if not m.startswith("urllib")] == []


def test_an_offline_refresh_fails_at_once_instead_of_retrying_dns():
    import socket
    import urllib.error

    class Offline(urllib.request.BaseHandler):
        calls = 0
        handler_order = 100  # before the real HTTPS handler

        def https_open(self, request):
            Offline.calls += 1
            raise urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution"))

    with pytest.raises(Exception, match="cannot resolve prices.azure.com: offline"):
        azure.fetch(opener=urllib.request.build_opener(Offline()), today=TODAY)
    assert Offline.calls == 1  # not retried for a minute
