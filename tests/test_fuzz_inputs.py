"""Property tests over every input format and flag: whatever a user hands cloudrun, the answer is a valid result or
InvalidInput (exit 2, one line), never another exception, never a hang, and a refusal writes nothing.

CI runs a fixed number of examples with a fixed seed (derandomize); `make fuzz` runs many more, each run with new
random inputs: CLOUDRUN_FUZZ_EXAMPLES sets how many, CLOUDRUN_FUZZ_RANDOM=1 drops the fixed seed (hypothesis then
prints the seed of any failure, to replay it).
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cloudrun import catalog, inputs, paths, scheduler, sizing
from cloudrun.cli import app
from cloudrun.credits import apply_credits, load_grants, rules
from cloudrun.credits.ledger import Ledger
from cloudrun.data import models
from cloudrun.errors import InvalidInput
from cloudrun.inputs import bounds, model_config
from cloudrun.models import PROVIDERS, SERVICES
from cloudrun.regions import REGIONS
from cloudrun.state import StateStore
from tests.factories import NOW, need, offer

FUZZ = settings(
    max_examples=int(os.environ.get("CLOUDRUN_FUZZ_EXAMPLES", "60")),
    derandomize=os.environ.get("CLOUDRUN_FUZZ_RANDOM", "") != "1",
    deadline=timedelta(seconds=10),  # far above any one check; a regression to a loop or a hang fails here
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

# --- strategies: values a hostile user would try, mixed with good ones ------------------------------------------

NUMBERISH = st.one_of(
    st.sampled_from(["0", "-1", "1e300", "1e-300", "1e400", "NaN", "sNaN", "Infinity", "-0", "9" * 25, "４", "1_000",
                     " 8 ", "0x10", "", "1.5", "2", "24", "80", "0.0000001"]),
    st.integers(min_value=-(10**25), max_value=10**25).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)  # fmt: skip
JUNK_TEXT = st.one_of(st.text(max_size=24), st.sampled_from(["ｕｓ-ｅａｓｔ-１", "../x", "[/x]", "a\nb", "\x00", "é"]))
JSON_LEAF = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), JUNK_TEXT, NUMBERISH,
)  # fmt: skip
JSON_VALUE = st.recursive(
    JSON_LEAF, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)  # fmt: skip
DATES = st.one_of(
    st.sampled_from(["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00", "2999-01-01", "2027-02-30", "20270101",
                     "2027-01-01T00:00:00+25:00", "2027-06-01", "2027-06-01T00:00:00Z", "1999-12-31"]),
    st.datetimes(timezones=st.timezones() | st.none()).map(datetime.isoformat),
    st.dates().map(lambda d: d.isoformat()),
)  # fmt: skip
DURATIONS = st.one_of(
    st.builds(lambda n, u: f"{n}{u}", NUMBERISH, st.sampled_from(["s", "m", "h", "d", "w", "M", "", " h"])),
    st.sampled_from(["30m", "8h", "2d", "1s", "366d", "367d", "0.0000001s", "9999999999d", "1h30m"]),
)  # fmt: skip
BUILT_IN_CONFIGS = [json.loads(p.read_text()) for p in sorted(Path(models.__file__).parent.glob("*.json"))]
CONFIG_KEYS = [*bounds.CONFIG_COUNTS, *model_config.FLAGS, *model_config.OBJECTS, *model_config.TEXTS, "architectures"]
EDGE_INTS = st.sampled_from([0, 1, -1, 2, 3, 5, 8, 64, 128, 1024, 1025, 10**9, 2**63, -(2**31)])


@st.composite
def configs(draw: st.DrawFn) -> str:
    """A built-in config.json with a few fields removed or replaced by edge or junk values (NaN written as NaN)."""
    cfg = dict(draw(st.sampled_from(BUILT_IN_CONFIGS)))
    for key in draw(st.lists(st.sampled_from(CONFIG_KEYS), max_size=4, unique=True)):
        if key in cfg and draw(st.booleans()):
            del cfg[key]
        else:
            cfg[key] = draw(st.one_of(EDGE_INTS, st.integers(0, 5000), JSON_VALUE))
    return json.dumps(cfg, allow_nan=True)


GOOD_ROWS = [
    ["aws", "sagemaker", "us-east-1", "ml.g5.12xlarge", "A10G", "4", "24", "48", "192", "7.09", "", "q", "2026-11-01"],
    ["gcp", "vertex", "us-central1", "a2-ultragpu-2g", "A100", "2", "80", "24", "340", "9", "4", "q", "2026-11-01"],
    ["azure", "azureml", "eastus", "Standard_NC24ads_A100_v4", "A100", "1", "80", "24", "220", "3.67", "", "q",
     "2025-03-06"],
]  # fmt: skip


@st.composite
def catalogs(draw: st.DrawFn) -> str:
    """A catalog CSV: good rows with a few fields replaced by junk, sometimes a broken header or a raw junk line."""
    header = list(catalog.COLUMNS) if draw(st.integers(0, 9)) else draw(st.lists(JUNK_TEXT, max_size=14))
    out = io.StringIO()
    writer = csv.writer(out)
    writable = (lambda fields: fields) if sys.version_info >= (3, 11) else (  # 3.10's csv cannot write a NUL
        lambda fields: [str(field).replace("\0", "") for field in fields])  # fmt: skip
    writer.writerow(writable(header))
    for _ in range(draw(st.integers(0, 4))):
        row = list(draw(st.sampled_from(GOOD_ROWS)))
        for index in draw(st.lists(st.integers(0, len(row) - 1), max_size=3, unique=True)):
            row[index] = draw(st.one_of(NUMBERISH, JUNK_TEXT, st.sampled_from(sorted(REGIONS["gcp"]))))
        writer.writerow(writable(row[: draw(st.sampled_from([13, 13, 13, 12, 5]))]))
    return out.getvalue() + draw(st.sampled_from(["", "", "\n", "x,y\n", '"unclosed\n']))


GOOD_GRANT = {"provider": "gcp", "amount_usd": 300, "expires_at": "2027-02-01T00:00:00Z", "gpu_eligible": True,
              "services": ["vertex"], "name": "trial"}  # fmt: skip
GRANT_JUNK = {
    "provider": st.sampled_from(["aws", "AWS", "ibm", "", "azure"]) | JSON_VALUE,
    "amount_usd": NUMBERISH | JSON_VALUE | st.sampled_from([1e308, -5, True, 10**6, 10**6 + 1]),
    "expires_at": DATES | JSON_VALUE,
    "starts_at": DATES | JSON_VALUE,
    "currency": st.sampled_from(["USD", "usd", "EUR", ""]) | JSON_VALUE,
    "services": st.sampled_from([["nonsense"], "vertex", [], [1], ["vertex", "vertex"], ["sagemaker"]]) | JSON_VALUE,
    "gpu_eligible": st.sampled_from(["yes", 1, None]) | st.booleans(),
    "name": JUNK_TEXT | JSON_VALUE,
    "unknown": JSON_VALUE,
}


@st.composite
def credit_files(draw: st.DrawFn) -> str:
    """A credits JSON file: good grants with a few fields replaced or removed, sometimes not a list at all."""
    grants: list[Any] = []
    for _ in range(draw(st.integers(0, 3))):
        grant = dict(GOOD_GRANT)
        for field in draw(st.lists(st.sampled_from(sorted(GRANT_JUNK)), max_size=3, unique=True)):
            if field in grant and draw(st.integers(0, 4)) == 0:
                del grant[field]
            else:
                grant[field] = draw(GRANT_JUNK[field])
        grants.append(grant)
    document = grants if draw(st.integers(0, 9)) else draw(JSON_VALUE)
    return json.dumps(document, allow_nan=True)


# --- helpers -----------------------------------------------------------------------------------------------------


@contextmanager
def a_file(content: str | bytes) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "input"
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass"))
        yield path


def result_or_refusal(call: Callable[[], Any]) -> Any:
    """Return what `call` returns, or None when it refused with InvalidInput (any other exception fails the test)."""
    try:
        return call()
    except InvalidInput:
        return None


@contextmanager
def fresh_home() -> Iterator[Path]:
    """A CLOUDRUN_HOME of its own for one example, so each example's state file (or its absence) is its own."""
    with tempfile.TemporaryDirectory() as folder, mock.patch.dict(os.environ, {"CLOUDRUN_HOME": folder}):
        yield Path(folder)


def run_cli(*args: str) -> tuple[int, str]:
    """Return (exit code, stderr) of one command; a refusal (2) is one line and leaves no state file."""
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    if result.exit_code == 2:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
        assert not paths.state_path().exists()
    return result.exit_code, result.stderr


# --- config.json ---------------------------------------------------------------------------------------------------


@FUZZ
@given(configs())
def test_any_config_json_sizes_sanely_or_is_refused(text):
    with a_file(text) as path:
        found = result_or_refusal(lambda: sizing.need(None, config_path=path))
    if found is not None:
        assert found.params > 0 and found.weights_bytes > 0 and found.kv_bytes_per_token > 0
        assert 1 <= found.attention_heads <= bounds.CONFIG_COUNTS["num_attention_heads"][1]
        assert all(scheduler.fit(found, offer(gpus=gpus)).tensor_parallel <= gpus for gpus in (1, 2, 8, 64))


@FUZZ
@given(st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_any_bytes_as_a_config_are_sized_or_refused(data):
    with a_file(data) as path:
        result_or_refusal(lambda: sizing.need(None, config_path=path))


# --- catalog CSV --------------------------------------------------------------------------------------------------


@FUZZ
@given(catalogs())
def test_any_catalog_loads_within_bounds_and_ranks_or_is_refused(text):
    with a_file(text) as path:
        offers = result_or_refusal(lambda: catalog.load_csv(path))
    for o in offers or []:
        assert 1 <= o.gpu_count <= bounds.MAX_GPU_COUNT and o.region in REGIONS[o.provider]
        assert bounds.MIN_USD_PER_HOUR <= o.price_per_hour_usd <= bounds.MAX_USD_PER_GPU_HOUR * o.gpu_count
        assert bounds.MIN_GPU_MEMORY_GB <= o.gpu_memory_gb <= bounds.MAX_GPU_MEMORY_GB and o.instance_type.isascii()
    if offers:
        scheduler.rank(need(), offers, [], hours=Decimal(24), now=NOW, spot=True, include_infeasible=True)


# --- credits JSON and `credits add` -------------------------------------------------------------------------------


@FUZZ
@given(credit_files())
def test_any_credits_file_pays_within_bounds_or_is_refused(text):
    with a_file(text) as path:
        grants = result_or_refusal(lambda: load_grants(path))
    for grant in grants or []:
        assert Decimal(0) <= grant.amount_usd <= bounds.MAX_USD and grant.services == (SERVICES[grant.provider],)
        assert bounds.EARLIEST <= grant.expires_at < bounds.LATEST + timedelta(days=1)
        target = offer(provider=grant.provider)
        applied, _ = apply_credits(Decimal("1.5"), Decimal(24), [grant], target, NOW)
        assert Decimal(0) <= applied <= grant.amount_usd


FLAG_TEXT = NUMBERISH | JUNK_TEXT | DATES


@FUZZ
@given(
    amount=st.none() | NUMBERISH, expires=st.none() | DATES, starts=st.none() | DATES,
    services=st.none() | st.lists(st.sampled_from(["sagemaker", "vertex", "nonsense", ""]), max_size=2),
    name=st.none() | JUNK_TEXT, currency=st.sampled_from(["USD", "usd", "EUR", ""]),
)  # fmt: skip
def test_credits_add_saves_a_sane_grant_or_refuses_and_writes_nothing(amount, expires, starts, services, name,
                                                                      currency):  # fmt: skip
    args = ["credits", "add", "--provider", "aws", "--currency", currency]
    for flag, value in (("--amount", amount), ("--expires", expires), ("--starts", starts), ("--name", name)):
        args += [flag, value] if value is not None else []
    for service in services or []:
        args += ["--services", service]
    with fresh_home():
        code, stderr = run_cli(*args)
        assert code in (0, 2), stderr
        if code == 0:
            with StateStore() as store:
                [grant] = Ledger(store).grants()
            assert Decimal(0) <= grant.amount_usd <= bounds.MAX_USD and grant.services == ("sagemaker",)
            assert bounds.EARLIEST <= grant.starts_at < grant.expires_at < bounds.LATEST + timedelta(days=1)


# --- numeric, duration and date flags -------------------------------------------------------------------------------


@FUZZ
@given(FLAG_TEXT | st.floats(allow_nan=True, allow_infinity=True))
def test_money_and_hours_flags_are_bounded_or_refused(value):
    hours = result_or_refusal(lambda: inputs.hours(value))
    assert hours is None or Decimal(0) < hours <= bounds.MAX_HOURS
    for flag in ("--max-spend", "--monthly-cap", "--max-price"):
        usd = result_or_refusal(lambda flag=flag: inputs.usd(value, flag))
        assert usd is None or Decimal(0) < usd <= bounds.MAX_USD
    amount = result_or_refusal(lambda: rules.credit_amount(value, "--amount"))
    assert amount is None or Decimal(0) <= amount <= bounds.MAX_USD


@FUZZ
@given(DURATIONS | JUNK_TEXT)
def test_durations_are_a_second_to_a_year_or_refused(text):
    found = result_or_refusal(lambda: inputs.parse_duration(text, "--idle"))
    assert found is None or bounds.MIN_DURATION <= found <= bounds.MAX_DURATION
    result_or_refusal(lambda: inputs.limits(idle_timeout=text, ttl=text, max_spend="20"))


@FUZZ
@given(DATES | JUNK_TEXT | JSON_VALUE)
def test_dates_are_in_this_century_in_utc_or_refused(value):
    found = result_or_refusal(lambda: inputs.moment(value, "--expires"))
    assert found is None or (bounds.EARLIEST - timedelta(days=1) <= found < bounds.LATEST + timedelta(days=1)
                             and found.utcoffset() == timedelta(0))  # fmt: skip


@FUZZ
@given(
    hours=st.sampled_from(["24", "1"]) | NUMBERISH, context=st.sampled_from(["4096", "0"]) | NUMBERISH,
    concurrency=st.sampled_from(["1", "4"]) | NUMBERISH,
    provider=st.none() | st.sampled_from([*PROVIDERS, "", "AWS", "awz", "aws,"]),
    region=st.none() | st.sampled_from(["us-east-1", "eastus", "", "mars-1", "ｕｓ-ｅａｓｔ-１", "[/x]"]),
)  # fmt: skip
def test_plan_flags_give_a_plan_or_one_line_exit_2(hours, context, concurrency, provider, region):
    args = ["plan", "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "--hours", hours, "--context", context,
            "--concurrency", concurrency]  # fmt: skip
    args += ["--provider", provider] if provider is not None else []
    args += ["--region", region] if region is not None else []
    with fresh_home():
        code, stderr = run_cli(*args)
    assert code in (0, 2), stderr


@FUZZ
@given(
    idle=DURATIONS, interval=DURATIONS, workers=st.sampled_from(["1", "8", "0", "65", "-1", "10" * 10]),
    provider=st.sampled_from(["aws", "", "awz", "AZURE", "gcp,", "ibm"]), command=st.sampled_from(["teardown", "down"]),
)  # fmt: skip
def test_teardown_and_panic_button_flags_run_or_refuse_before_anything_is_touched(idle, interval, workers, provider,
                                                                                  command):  # fmt: skip
    args = ["teardown", "--idle", idle, "--concurrency", workers] if command == "teardown" else ["down", "--all"]
    with fresh_home():
        code, stderr = run_cli(*args, "--dry-run", "--provider", provider)
        assert code in (0, 1, 2), stderr  # 1: a provider could not be checked (no credentials here)
        policy = result_or_refusal(lambda: inputs.duration(interval, "--interval"))
        assert policy is None or bounds.MIN_DURATION <= policy <= bounds.MAX_DURATION
    if code != 2:  # it ran: every flag was valid
        assert inputs.providers([provider]) and (command == "down" or 1 <= int(workers) <= bounds.MAX_WORKERS)
