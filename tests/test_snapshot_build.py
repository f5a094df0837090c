"""The snapshot build (scripts/build_catalog_snapshot.py): reproducible, and every Vertex row cross-checked."""

import importlib.util
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from cloudrun import catalog
from cloudrun.pricing import crosscheck

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def build():
    path = ROOT / "scripts" / "build_catalog_snapshot.py"
    spec = importlib.util.spec_from_file_location("build_catalog_snapshot", path)
    module = importlib.util.module_from_spec(spec)
    saved = list(sys.path)
    spec.loader.exec_module(module)  # puts scripts/ on sys.path to import the snapshot package beside it
    yield module
    sys.path[:] = saved
    for name in [name for name in sys.modules if name == "snapshot" or name.startswith("snapshot.")]:
        del sys.modules[name]


def _figure(price, source="test", as_of="2025-03-06", spot=None):
    return crosscheck.Figure(Decimal(price), None if spot is None else Decimal(spot), source, as_of)


def test_the_build_reproduces_the_bundled_snapshot_byte_for_byte(build, tmp_path):
    out = tmp_path / "offers.csv"
    build.main(["build", str(out)])
    bundled = ROOT / "cloudrun" / "data" / "offers.csv"
    stale = "offers.csv is stale: run `python scripts/build_catalog_snapshot.py`"
    assert out.read_bytes() == bundled.read_bytes(), stale


def test_a_plausible_vertex_premium_keeps_the_candidate():
    candidate = _figure("101.84")
    assert crosscheck.resolve(candidate, _figure("87.83", as_of="undated"), Decimal("1.15"), "doc") is candidate


@pytest.mark.parametrize("vertex, compute", [("101.7635", "43.0662"), ("0.50", "0.70")])
def test_an_implausible_premium_is_flagged_and_a_dated_candidate_beats_an_undated_reference(vertex, compute):
    reference = _figure(compute, source="skypilot row", as_of="undated", spot="26.8301")
    candidate = _figure(vertex, source="pricing.yml", as_of="2026-08-20", spot="0.30")
    resolved = crosscheck.resolve(candidate, reference, Decimal("1.15"), "vertex page")
    assert resolved.source.startswith(f"conflict: {vertex} vs ")  # the figure used first
    assert "skypilot row" in resolved.source and "pricing.yml" in resolved.source and "vertex page" in resolved.source
    assert "not used: " + str((Decimal(compute) * Decimal("1.15")).quantize(Decimal("0.0001"))) in resolved.source
    assert (resolved.price_per_hour_usd, resolved.spot_price_per_hour_usd) == (Decimal(vertex), Decimal("0.30"))
    assert resolved.as_of == "2026-08-20"


DATES = [("undated", "undated"), ("undated", "2026-10-01"), ("2025-03-06", "2026-10-01"), ("2026-10-01", "2026-10-01")]


@pytest.mark.parametrize("candidate_as_of, reference_as_of", DATES)
def test_otherwise_the_compute_engine_figure_wins(candidate_as_of, reference_as_of):
    reference = _figure("43.0662", source="skypilot row", as_of=reference_as_of, spot="26.8301")
    resolved = crosscheck.resolve(_figure("101.7635", source="pricing.yml", as_of=candidate_as_of), reference,
                                  Decimal("1.15"), "vertex page")  # fmt: skip
    assert resolved.source.startswith("conflict:") and " vs 101.7635" in resolved.source
    assert resolved.price_per_hour_usd == Decimal("49.5261")
    assert resolved.as_of == reference_as_of  # the date of the figure used, not of the one set aside
    spot = resolved.spot_price_per_hour_usd
    assert spot is None or spot <= resolved.price_per_hour_usd


def test_the_premium_bounds_are_inclusive():
    assert crosscheck.problem(Decimal("150"), Decimal("100")) is None
    assert crosscheck.problem(Decimal("100"), Decimal("100")) is None
    assert "1.5001x" in crosscheck.problem(Decimal("150.01"), Decimal("100"))
    assert "0.9999x" in crosscheck.problem(Decimal("99.99"), Decimal("100"))


def test_no_bundled_vertex_row_is_over_one_and_a_half_times_its_compute_engine_machine_unflagged(build):
    checked = 0
    for offer in catalog.bundled():
        if offer.service != "vertex":
            continue
        reference = build.vertex.reference(offer.instance_type, offer.region)
        if reference is None:
            assert "not cross-checked" in offer.source, offer.instance_type
            continue
        checked += 1
        ratio = crosscheck.premium(offer.price_per_hour_usd, reference.price_per_hour_usd)
        assert crosscheck.PREMIUM_LOW <= ratio <= crosscheck.PREMIUM_HIGH or offer.source.startswith("conflict:")
    assert checked >= 20


def test_the_a3_highgpu_8g_us_central1_price_is_the_dated_compute_engine_figure_and_the_conflict_is_named(build):
    (a3,) = [o for o in catalog.bundled() if (o.instance_type, o.region) == ("a3-highgpu-8g", "us-central1")]
    reference = build.vertex.reference("a3-highgpu-8g", "us-central1")
    assert reference.price_per_hour_usd == Decimal("43.0662")  # 9.46006 host + 33.60609 for 8 H100, undated
    assert a3.source.startswith("conflict:") and "not used: 49.5261" in a3.source  # named and set aside
    assert a3.price_per_hour_usd == Decimal("101.7635") and a3.as_of == "2026-08-20"  # 88.4899999025753 x 1.15


def test_every_vertex_row_the_dated_table_prices_carries_its_date(build):
    for offer in catalog.bundled():
        if offer.service == "vertex" and (offer.instance_type, offer.region) in build.vertex.compute_engine.PRICING_YML:
            assert offer.as_of == "2026-08-20", (offer.instance_type, offer.region)


def test_h200_rows_are_priced_only_where_a_source_exists_and_without_spot():
    h200 = [o for o in catalog.bundled() if o.gpu_model == "H200"]
    assert {(o.instance_type, o.region) for o in h200} == {("a3-ultragpu-8g", "us-central1"),
                                                          ("a3-ultragpu-8g", "us-east4")}  # fmt: skip
    assert all(o.spot_price_per_hour_usd is None and "vertex-ai-samples" in o.source for o in h200)
