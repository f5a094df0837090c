"""The price catalog: the bundled snapshot's contents, strict parsing of catalog files, and filters."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest

from cloudrun import catalog
from cloudrun.errors import InvalidInput
from cloudrun.models import SERVICES, Offer

VALID = {
    "provider": "gcp",
    "service": "vertex",
    "region": "us-central1",
    "instance_type": "g2-standard-8",
    "gpu_model": "L4",
    "gpu_count": "1",
    "gpu_memory_gb": "24",
    "vcpus": "8",
    "memory_gb": "32",
    "price_per_hour_usd": "0.9817",
    "spot_price_per_hour_usd": "0.3873",
    "source": "test fixture",
    "as_of": "2026-11-28",
}
AWS_ROW = {
    **VALID,
    "provider": "aws",
    "service": "sagemaker",
    "region": "us-east-1",
    "instance_type": "ml.g5.48xlarge",
    "gpu_model": "A10G",
    "gpu_count": "8",
    "price_per_hour_usd": "20.36",
    "spot_price_per_hour_usd": "",
}


def write_catalog(tmp_path: Path, *rows: dict[str, str], header: tuple[str, ...] = catalog.COLUMNS) -> Path:
    path = tmp_path / "offers.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(column, "") for column in header])
    return path


def invalid(path: Path) -> str:
    with pytest.raises(InvalidInput) as caught:
        catalog.load_csv(path)
    return str(caught.value)


def total_gpu_gb(offer: Offer) -> Decimal:
    return offer.gpu_count * offer.gpu_memory_gb


# --- the bundled snapshot ---------------------------------------------------------------------------


def test_bundled_snapshot_loads_and_every_row_validates():
    offers = catalog.bundled()
    assert 80 <= len(offers) <= 150
    assert all(isinstance(offer, Offer) for offer in offers)


def test_bundled_snapshot_header_is_the_documented_contract():
    text = resources.files("cloudrun.data").joinpath("offers.csv").read_text(encoding="utf-8")
    assert tuple(text.splitlines()[0].split(",")) == catalog.COLUMNS


def test_bundled_snapshot_is_cached_and_callers_cannot_change_it():
    first = catalog.bundled()
    first.clear()
    assert len(catalog.bundled()) > 0


def test_all_three_services_present_with_matching_providers():
    offers = catalog.bundled()
    assert {offer.service for offer in offers} == set(SERVICES.values())
    assert all(SERVICES[offer.provider] == offer.service for offer in offers)


@pytest.mark.parametrize("service", sorted(SERVICES.values()))
def test_each_service_has_offers_that_fit_a_67b_bf16_model(service):
    big = {o.instance_type for o in catalog.bundled() if o.service == service and total_gpu_gb(o) >= 192}
    assert len(big) >= 3, big


@pytest.mark.parametrize("service", sorted(SERVICES.values()))
def test_each_service_has_small_single_gpu_offers_for_7b_models(service):
    small = [o for o in catalog.bundled() if o.service == service and o.gpu_count == 1 and o.gpu_memory_gb >= 16]
    assert small


def test_spot_prices_only_on_vertex_rows_and_never_above_on_demand():
    for offer in catalog.bundled():
        if offer.spot_price_per_hour_usd is not None:
            assert offer.service == "vertex", offer.instance_type
            assert offer.spot_price_per_hour_usd <= offer.price_per_hour_usd


def test_every_row_has_a_source_and_a_past_as_of_date_or_says_undated():
    for offer in catalog.bundled():
        assert offer.source.strip()
        if offer.as_of != catalog.UNDATED:
            assert date(2024, 1, 1) <= date.fromisoformat(offer.as_of) <= date.today()


def test_no_row_claims_a_date_its_source_does_not_give():
    # A dated row's source states that date (a list "read on 2026-09-27", a file "generated 2025-03-06"); the day a
    # copy was read is never passed off as its date, so an undated copy gives an "undated" row.
    offers = catalog.bundled()
    for offer in offers:
        assert offer.as_of == catalog.UNDATED or offer.as_of in offer.source, (offer.instance_type, offer.region)
    assert any(offer.as_of == catalog.UNDATED for offer in offers)


def test_conflicting_figures_say_which_figures_disagree():
    conflicts = [o for o in catalog.bundled() if o.source.startswith("conflict:")]
    assert conflicts
    assert all(" vs " in o.source for o in conflicts)


def test_bundled_regions_cover_the_main_regions():
    regions = {(o.service, o.region) for o in catalog.bundled()}
    for expected in [
        ("sagemaker", "us-east-1"),
        ("sagemaker", "us-west-2"),
        ("vertex", "us-central1"),
        ("vertex", "europe-west4"),
        ("azureml", "eastus"),
    ]:
        assert expected in regions


# --- strict parsing of catalog files ------------------------------------------------------------------


def test_valid_file_loads_with_decimal_money_and_optional_spot(tmp_path):
    offers = catalog.load_csv(write_catalog(tmp_path, VALID, AWS_ROW))
    assert offers[0].price_per_hour_usd == Decimal("0.9817")
    assert offers[0].spot_price_per_hour_usd == Decimal("0.3873")
    assert offers[1].spot_price_per_hour_usd is None
    assert offers[1].gpu_memory_bytes == 24_000_000_000


def test_missing_file_is_invalid_input(tmp_path):
    assert "does not exist" in invalid(tmp_path / "nope.csv")


def test_empty_file_and_header_only_file_are_rejected(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "is empty" in invalid(empty)
    assert "no offers" in invalid(write_catalog(tmp_path))


def test_bad_header_names_missing_and_extra_columns(tmp_path):
    header = tuple(c for c in catalog.COLUMNS if c != "as_of") + ("region_name",)
    message = invalid(write_catalog(tmp_path, header=header))
    assert "offers.csv line 1" in message
    assert "missing as_of" in message
    assert "unexpected region_name" in message


def test_header_out_of_order_is_rejected(tmp_path):
    header = ("service", "provider") + catalog.COLUMNS[2:]
    assert "out of order" in invalid(write_catalog(tmp_path, header=header))


def test_bad_number_names_file_row_and_field(tmp_path):
    path = write_catalog(tmp_path, VALID, {**AWS_ROW, "price_per_hour_usd": "abc"})
    message = invalid(path)
    assert f"{path} row 2 (line 3), field price_per_hour_usd: 'abc' is not a number" in message


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("gpu_count", "0", "field gpu_count: '0' must be a whole number of at least 1"),
        ("gpu_count", "2.5", "field gpu_count: '2.5' must be a whole number"),
        ("gpu_memory_gb", "-24", "field gpu_memory_gb: '-24' must be a number greater than 0"),
        ("price_per_hour_usd", "0", "field price_per_hour_usd: '0' must be a number greater than 0"),
        ("price_per_hour_usd", "NaN", "field price_per_hour_usd: 'NaN' must be a number greater than 0"),
        ("spot_price_per_hour_usd", "-1", "field spot_price_per_hour_usd: '-1' must be a number"),
        ("source", "", "field source: is empty"),
        ("region", "", "field region: is empty"),
    ],
)
def test_field_rules(tmp_path, field, value, expected):
    assert expected in invalid(write_catalog(tmp_path, {**VALID, field: value}))


def test_unknown_provider_is_rejected(tmp_path):
    message = invalid(write_catalog(tmp_path, {**VALID, "provider": "oracle"}))
    assert "row 1 (line 2), field provider: 'oracle' is not one of aws, gcp, azure" in message


def test_service_must_match_provider(tmp_path):
    message = invalid(write_catalog(tmp_path, {**AWS_ROW, "service": "vertex"}))
    assert "field service: 'vertex' does not match provider aws (expected sagemaker)" in message


@pytest.mark.parametrize("value", ["2026-13-01", "28.11.2026", "20261128", "yesterday"])
def test_as_of_must_be_an_iso_date(tmp_path, value):
    message = invalid(write_catalog(tmp_path, {**VALID, "as_of": value}))
    assert f"field as_of: '{value}' is not an ISO date (YYYY-MM-DD)" in message


def test_duplicate_offer_is_rejected(tmp_path):
    message = invalid(write_catalog(tmp_path, VALID, AWS_ROW, {**VALID, "price_per_hour_usd": "1.5"}))
    assert "row 3 (line 4): duplicate offer gcp us-central1 g2-standard-8 (first given in row 1)" in message


def test_same_instance_in_another_region_is_not_a_duplicate(tmp_path):
    offers = catalog.load_csv(write_catalog(tmp_path, VALID, {**VALID, "region": "europe-west4"}))
    assert len(offers) == 2


def test_spot_above_on_demand_is_a_data_error(tmp_path):
    message = invalid(write_catalog(tmp_path, {**VALID, "spot_price_per_hour_usd": "1.20"}))
    assert "field spot_price_per_hour_usd: spot price 1.20 is above the on-demand price 0.9817" in message


def test_spot_price_on_a_service_without_spot_is_rejected(tmp_path):
    message = invalid(write_catalog(tmp_path, {**AWS_ROW, "spot_price_per_hour_usd": "7.00"}))
    assert "field spot_price_per_hour_usd: sagemaker endpoints have no spot capacity" in message


def test_row_with_wrong_field_count_is_rejected(tmp_path):
    path = write_catalog(tmp_path, VALID)
    path.write_text(path.read_text() + "gcp,vertex,us-east4\n")
    assert "row 2 (line 3): has 3 fields, expected 13" in invalid(path)


def test_label_replaces_the_path_in_messages(tmp_path):
    path = write_catalog(tmp_path, {**VALID, "provider": "oracle"})
    with pytest.raises(InvalidInput, match=r"^my catalog row 1"):
        catalog.load_csv(path, label="my catalog")


# --- offers(): source and filters ---------------------------------------------------------------------


def test_offers_defaults_to_the_bundled_snapshot():
    assert catalog.offers() == catalog.bundled()
    assert catalog.source_label().startswith("bundled snapshot offers.csv (oldest price as of ")


def test_offers_reads_a_catalog_file_when_given(tmp_path):
    path = write_catalog(tmp_path, VALID, AWS_ROW)
    assert [o.instance_type for o in catalog.offers(catalog_path=path)] == ["g2-standard-8", "ml.g5.48xlarge"]
    assert catalog.source_label(path) == str(path)


def test_provider_filter():
    offers = catalog.offers(providers=["gcp", "AZURE"])
    assert {o.provider for o in offers} == {"gcp", "azure"}


def test_unknown_provider_lists_valid_ones():
    with pytest.raises(InvalidInput, match="unknown provider 'oracle': choose from aws, gcp, azure"):
        catalog.offers(providers=["aws", "oracle"])


def test_region_filter():
    offers = catalog.offers(regions=["us-east-1", "us-central1"])
    assert {o.region for o in offers} == {"us-east-1", "us-central1"}


def test_unknown_region_lists_known_regions():
    with pytest.raises(InvalidInput, match=r"region 'mars-1' is not in the catalog: known regions are .*us-east-1"):
        catalog.offers(regions=["mars-1"])


def test_region_must_exist_for_the_chosen_providers():
    with pytest.raises(InvalidInput) as caught:
        catalog.offers(providers=["aws"], regions=["us-central1"])
    message = str(caught.value)
    assert "region 'us-central1' is not in the catalog for aws" in message
    assert "us-east-1" in message
    assert "europe-west4" not in message


@pytest.mark.parametrize("value", ["", "undated"])
def test_as_of_may_be_empty_or_undated(tmp_path, value):
    (offer,) = catalog.load_csv(write_catalog(tmp_path, {**VALID, "as_of": value}))
    assert offer.as_of == "undated"
    assert catalog.oldest_as_of([offer]) is None and catalog.oldest_label([offer]) == "undated"
    assert catalog.price_age_days([offer], date(2026, 11, 30)) is None
    assert catalog.is_stale([offer], date(2026, 11, 30))  # an unknown age counts as old


def test_undated_is_older_than_any_date(tmp_path):
    offers = catalog.load_csv(write_catalog(tmp_path, VALID, {**AWS_ROW, "as_of": "undated"}))
    assert catalog.oldest_label(offers) == "undated"
    dated = [offer for offer in offers if offer.as_of != "undated"]
    assert catalog.oldest_label(dated) == "2026-11-28" and not catalog.is_stale(dated, date(2026, 11, 30))
    assert catalog.is_stale(dated, date(2027, 1, 1))


def test_oldest_as_of(tmp_path):
    path = write_catalog(tmp_path, VALID, {**AWS_ROW, "as_of": "2025-03-06"})
    assert catalog.oldest_as_of(catalog.load_csv(path)) == date(2025, 3, 6)
    with pytest.raises(InvalidInput):
        catalog.oldest_as_of([])
