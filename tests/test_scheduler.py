import signal
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from cloudrun.credits import apply_credits
from cloudrun.scheduler import fit, rank, tensor_parallel_degree
from tests.factories import NOW, grant, need, offer


def _rank(offers, grants=(), hours="10", **kw):
    return rank(kw.pop("n", need()), offers, grants, hours=Decimal(hours), now=NOW, **kw)


def test_tensor_parallel_must_divide_heads_and_respect_kv_heads():
    assert tensor_parallel_degree(need(heads=64, kv_heads=8), 8) == 8
    assert tensor_parallel_degree(need(heads=28, kv_heads=4), 8) == 4  # 7 divides 28 but not the 4 KV heads
    assert tensor_parallel_degree(need(heads=40, kv_heads=8), 4) == 4
    assert tensor_parallel_degree(need(heads=12, kv_heads=2), 8) == 6  # 6 divides 12; KV heads replicated
    assert tensor_parallel_degree(need(heads=128, kv_heads=None), 8) == 8  # MLA


def test_the_tensor_parallel_search_is_bounded_by_the_heads_not_the_gpu_count():
    def too_slow(*_: object) -> None:
        raise TimeoutError("the search walked the GPU count")

    previous = signal.signal(signal.SIGALRM, too_slow)
    signal.alarm(5)
    try:
        assert tensor_parallel_degree(need(heads=28, kv_heads=4), 10**20) == 28
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_fit_counts_weights_kv_and_overhead_per_gpu():
    # 14 GB weights + 0.23 GB KV + 2.15 GB overhead = 16.4 GB <= 21.6 GB usable (90 % of 24 GB)
    assert fit(need(weights_gb=14), offer(gpu_gb="24")).feasible
    # 20 GB weights + 2.15 GB overhead > 21.6 GB
    result = fit(need(weights_gb=20), offer(gpu_gb="24"))
    assert not result.feasible
    assert "weights" in result.reasons[0] and "exceed" in result.reasons[0]


def test_fit_names_the_context_that_would_fit_when_the_kv_cache_decides():
    big_context = need(weights_gb=14, context=131072)  # 57,344 B/token x 131072 = 7.5 GB KV
    result = fit(big_context, offer(gpu_gb="24"))
    assert not result.feasible
    assert "KV cache for context 131072" in result.reasons[-1] and "at most context" in result.reasons[-1]
    max_context = int(result.reasons[-1].rsplit("at most context ", 1)[1].split()[0])
    assert fit(need(weights_gb=14, context=max_context), offer(gpu_gb="24")).feasible
    assert not fit(need(weights_gb=14, context=max_context + 100), offer(gpu_gb="24")).feasible


def test_weights_split_across_gpus_with_tensor_parallelism():
    n = need(weights_gb=135, heads=64, kv_heads=8, kv_per_token=389_120)
    assert not fit(n, offer(gpus=4, gpu_gb="24")).feasible
    eight = fit(n, offer(gpus=8, gpu_gb="24"))
    assert eight.feasible and eight.tensor_parallel == 8


def test_infeasible_offers_are_left_out_unless_asked():
    small = offer(instance_type="small", gpu_gb="16", price="0.5")
    ok = offer(instance_type="ok", gpu_gb="24", price="1.0")
    assert [o.offer.instance_type for o in _rank([small, ok]).options] == ["ok"]
    every = _rank([small, ok], include_infeasible=True).options
    assert [(o.offer.instance_type, o.fit.feasible) for o in every] == [("ok", True), ("small", False)]


def test_credit_beats_a_lower_list_price():
    aws = offer("aws", "ml.g5.xlarge", price="1.4")
    gcp = offer("gcp", "g2-standard-8", price="1.0", region="us-central1")
    plan = _rank([aws, gcp], [grant("aws", amount="100")])
    assert plan.options[0].offer.provider == "aws"
    assert plan.options[0].out_of_pocket_usd == 0


def test_ineligible_grant_does_not_change_the_order():
    aws = offer("aws", "ml.g5.xlarge", price="1.4")
    gcp = offer("gcp", "g2-standard-8", price="1.0", region="us-central1")
    trial = grant("gcp", amount="300", gpu_eligible=False, services=("vertex",))
    plan = _rank([aws, gcp], [trial])
    assert plan.options[0].offer.provider == "gcp"
    assert plan.options[0].credits_applied_usd == 0


def test_ties_break_on_list_cost_then_fewer_gpus():
    # Both fully paid by credit (out of pocket 0): the lower list cost wins.
    cheap = offer("aws", "cheap", price="1.0")
    dear = offer("aws", "dear", price="2.0")
    plan = _rank([dear, cheap], [grant("aws", amount="1000")])
    assert [o.offer.instance_type for o in plan.options] == ["cheap", "dear"]
    # Same price: fewer GPUs first.
    one = offer("aws", "one", price="3.0", gpus=1)
    four = offer("aws", "four", price="3.0", gpus=4)
    assert [o.offer.instance_type for o in _rank([four, one]).options] == ["one", "four"]


def test_spot_options_only_where_the_offer_has_a_spot_price_and_only_when_asked():
    vertex = offer("gcp", "g2-standard-8", price="1.0", region="us-central1", spot="0.4")
    aws = offer("aws", "ml.g5.xlarge", price="1.4")
    assert all(not o.spot for o in _rank([vertex, aws]).options)
    plan = _rank([vertex, aws], spot=True)
    spot = [o for o in plan.options if o.spot]
    assert len(spot) == 1 and spot[0].offer.provider == "gcp" and plan.options[0] is spot[0]
    assert any("reclaimed" in r for r in spot[0].reasons)


def test_blocked_placements_are_skipped():
    a = offer("aws", "ml.g5.xlarge", price="1.0")
    b = offer("aws", "ml.g6.xlarge", price="2.0")
    plan = _rank([a, b], blocked={("aws", "us-east-1", "ml.g5.xlarge")})
    assert [o.offer.instance_type for o in plan.options] == ["ml.g6.xlarge"]


_offers = st.lists(
    st.builds(
        offer,
        provider=st.sampled_from(["aws", "gcp", "azure"]),
        instance_type=st.text("abcdefgh", min_size=1, max_size=6),
        price=st.decimals("0.1", "50", places=3).map(str),
        gpus=st.sampled_from([1, 2, 4, 8]),
        gpu_gb=st.sampled_from(["16", "24", "40", "80"]),
    ),
    min_size=1,
    max_size=12,
)
_grants = st.lists(
    st.builds(
        grant,
        provider=st.sampled_from(["aws", "gcp", "azure"]),
        amount=st.decimals("0", "500", places=2).map(str),
        expires_in_hours=st.floats(-5, 100),
        gpu_eligible=st.booleans(),
        services=st.sampled_from([("sagemaker",), ("vertex",), ("azureml",), ("sagemaker", "vertex", "azureml")]),
    ),
    max_size=5,
)


@settings(max_examples=150, deadline=None)
@given(offers=_offers, grants=_grants, hours=st.decimals("0.5", "200", places=1))
def test_first_option_is_the_cheapest_by_brute_force(offers, grants, hours):
    n = need()
    plan = rank(n, offers, grants, hours=hours, now=NOW)
    feasible = [o for o in offers if fit(n, o).feasible]
    if not feasible:
        assert plan.options == ()
        return
    costs = []
    for o in feasible:
        applied, _ = apply_credits(o.price_per_hour_usd, hours, grants, o, NOW)
        costs.append((o.price_per_hour_usd * hours - applied, o.price_per_hour_usd * hours, o.gpu_count))
    best = plan.options[0]
    assert (best.out_of_pocket_usd, best.list_cost_usd, best.offer.gpu_count) == min(costs)
    assert best.out_of_pocket_usd >= 0
    assert best.credits_applied_usd <= sum((g.amount_usd for g in grants), Decimal(0))


@settings(max_examples=100, deadline=None)
@given(
    amount=st.decimals("0", "1000", places=2),
    expires=st.floats(0.01, 300),
    price=st.decimals("0.1", "100", places=3),
    hours=st.decimals("0.1", "300", places=1),
)
def test_one_grant_pays_the_least_of_its_amount_usage_and_usage_before_expiry(amount, expires, price, hours):
    g = grant(amount=str(amount), expires_in_hours=expires)
    applied, _ = apply_credits(price, hours, [g], offer(), NOW)
    usable_hours = min(hours, Decimal(expires))
    expected = min(amount, price * usable_hours)
    assert abs(applied - expected) <= Decimal("0.000001") * 2 + price * Decimal("0.000001")
