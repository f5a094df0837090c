import json
from datetime import timedelta
from decimal import Decimal

import pytest

from cloudrun.credits import apply_credits, ineligible_reason, load_grants
from cloudrun.errors import InvalidInput
from tests.factories import NOW, grant, offer


def _apply(price, hours, grants, o=None):
    return apply_credits(Decimal(price), Decimal(hours), grants, o or offer(), NOW)


def test_a_grant_pays_up_to_its_amount():
    applied, uses = _apply("10", "40", [grant(amount="100")])
    assert applied == Decimal("100")
    assert uses[0].hours == Decimal(10)


def test_a_grant_pays_only_for_usage_before_it_expires():
    # $1000 would cover all 40 h at $10/h, but it expires after 5 h: it pays for 5 h = $50.
    applied, uses = _apply("10", "40", [grant(amount="1000", expires_in_hours=5)])
    assert applied == Decimal("50")
    assert uses[0].hours == Decimal(5)


def test_soonest_expiring_grant_is_spent_first():
    soon = grant(amount="50", expires_in_hours=10, name="soon")
    later = grant(amount="1000", expires_in_hours=500, name="later")
    applied, uses = _apply("10", "40", [later, soon])
    assert [u.grant for u in uses] == ["soon", "later"]
    assert [u.amount_usd for u in uses] == [Decimal("50"), Decimal("350")]
    assert applied == Decimal("400")


def test_a_grant_expiring_mid_run_pays_only_its_share_then_the_next_takes_over():
    # soon: $500 but expires at 3 h -> pays 3 h ($30); later pays the remaining 7 h but only has $20.
    soon = grant(amount="500", expires_in_hours=3, name="soon")
    later = grant(amount="20", expires_in_hours=100, name="later")
    applied, uses = _apply("10", "10", [soon, later])
    assert [(u.grant, u.amount_usd) for u in uses] == [("soon", Decimal("30")), ("later", Decimal("20"))]
    assert applied == Decimal("50")


@pytest.mark.parametrize(
    ("g", "why"),
    [
        (grant(provider="gcp", services=("vertex",)), "other provider"),
        (grant(services=("ec2",)), "does not list sagemaker"),
        (grant(gpu_eligible=False), "not eligible for GPU instances"),
        (grant(expires_in_hours=-1), "expired"),
    ],
)
def test_ineligible_grants_pay_nothing(g, why):
    assert ineligible_reason(g, offer(), NOW) == why
    assert _apply("10", "5", [g]) == (Decimal(0), ())


def _write(tmp_path, data):
    path = tmp_path / "credits.json"
    path.write_text(json.dumps(data))
    return path


GOOD = {
    "provider": "gcp",
    "amount_usd": 300,
    "expires_at": "2027-02-01T00:00:00Z",
    "gpu_eligible": True,
    "services": ["vertex"],
    "name": "trial",
}


def test_load_grants_reads_the_documented_fields(tmp_path):
    [g] = load_grants(_write(tmp_path, [GOOD]))
    assert (g.provider, g.amount_usd, g.name, g.services) == ("gcp", Decimal(300), "trial", ("vertex",))
    assert g.expires_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"amount_usd": -5}, "grant 1, field amount_usd: -5 is negative"),
        ({"amount_usd": "lots"}, "field amount_usd: 'lots' is not a number"),
        ({"expires_at": "next tuesday"}, "field expires_at: 'next tuesday' is not an ISO 8601 date"),
        ({"provider": "ibm"}, "field provider: 'ibm' is not one of aws, gcp, azure"),
        ({"gpu_eligible": "yes"}, "field gpu_eligible: expected true or false"),
        ({"services": "vertex"}, "field services: expected a list"),
    ],
)
def test_bad_grants_are_refused_with_the_field(tmp_path, patch, message):
    with pytest.raises(InvalidInput, match=message):
        load_grants(_write(tmp_path, [dict(GOOD, **patch)]))


def test_missing_fields_and_bad_json_are_refused(tmp_path):
    with pytest.raises(InvalidInput, match="missing field gpu_eligible"):
        load_grants(_write(tmp_path, [{k: v for k, v in GOOD.items() if k != "gpu_eligible"}]))
    bad = tmp_path / "bad.json"
    bad.write_text("[{")
    with pytest.raises(InvalidInput, match="not valid JSON"):
        load_grants(bad)
    with pytest.raises(InvalidInput, match="cannot read credits file"):
        load_grants(tmp_path / "missing.json")
