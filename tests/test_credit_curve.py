"""The planner's credit curve (cloudrun/credits/curve.py) against the greedy walk it replaces, grant by grant."""

from datetime import timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from cloudrun.credits import spend, usable_grants
from cloudrun.credits.curve import CreditCurve
from cloudrun.scheduler import rank
from tests.factories import NOW, grant, need, offer


def _ordered(grants):
    return usable_grants(grants, offer(), NOW)


_grants = st.lists(
    st.builds(
        grant,
        amount=st.decimals("0", "300", places=2).map(str),
        expires_in_hours=st.one_of(st.floats(-5, 200), st.sampled_from([1.0, 10.0, 24.0, 48.0])),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(grants=_grants, price=st.decimals("0", "80", places=4), hours=st.decimals("0.1", "300", places=1))
def test_the_curve_gives_what_the_greedy_walk_gives(grants, price, hours):
    ordered = _ordered(grants)
    walked, uses = spend(price, hours, ordered, NOW)
    assert CreditCurve(ordered, hours, NOW).applied(price) == walked
    assert walked <= min(price * hours, sum((g.amount_usd for g in ordered), Decimal(0))) + Decimal("0.000001")


def test_shapes_the_envelope_must_get_right():
    # every grant outlives the run (parallel lines), one expires mid-run, one is empty, one has expired
    grants = [grant(amount="5", expires_in_hours=100, name="a"), grant(amount="7", expires_in_hours=100, name="b"),
              grant(amount="50", expires_in_hours=2, name="soon"), grant(amount="0", expires_in_hours=3, name="empty"),
              grant(amount="9", expires_in_hours=-1, name="expired")]  # fmt: skip
    ordered = sorted(grants, key=lambda g: g.expires_at)  # the expired one too: the curve must give it nothing
    curve = CreditCurve(ordered, Decimal(10), NOW)
    for price, expected in (("0", "0"), ("1", "10"), ("3", "18"), ("10", "32"), ("30", "62"), ("1000", "62")):
        assert curve.applied(Decimal(price)) == Decimal(expected), price
    uses = {u.grant: u.amount_usd for u in curve.uses(Decimal(10))}
    assert uses == {"soon": Decimal(20), "a": Decimal(5), "b": Decimal(7)}


def test_a_plan_with_many_small_grants_shows_who_pays_only_when_asked():
    grants = [grant(amount="1", expires_in_hours=1 + i / 10, name=f"g{i}") for i in range(300)]
    plan = rank(need(), [offer(price="2"), offer(instance_type="ml.g5.2xlarge", price="3")], grants,
                hours=Decimal(24), now=NOW)  # fmt: skip
    for option in plan.options:
        paid = sum((u.amount_usd for u in option.credit_uses), Decimal(0))
        assert paid == option.credits_applied_usd
        assert all(u.hours > 0 for u in option.credit_uses)
    assert plan.options[0].credits_applied_usd == 48  # $2/h x 24 h, every hour paid by some one-dollar grant


def test_the_walk_pays_in_time_order_up_to_each_expiry():
    soon, later = grant(amount="100", expires_in_hours=3, name="soon"), grant(amount="100", expires_in_hours=50)
    total, uses = spend(Decimal(10), Decimal(10), [soon, later], NOW)
    assert total == 100 and [(u.grant, u.amount_usd, u.hours) for u in uses] == [
        ("soon", Decimal(30), Decimal(3)), (later.name, Decimal(70), Decimal(7))]  # fmt: skip
    assert NOW + timedelta(hours=3) == soon.expires_at
