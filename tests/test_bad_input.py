"""Issue 19, part 3: every input a hostile user tried, refused the same way: exit 2, one line, no traceback, nothing
written (no state file appears). Each row failed before the validation layer (cloudrun/inputs/): a traceback, a hang,
another exit code, or nonsense accepted with exit 0.

The cases that used to exhaust the machine run in a subprocess with a time and memory limit, so a regression fails
here instead of taking the machine down.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cloudrun import paths
from cloudrun.cli import app
from cloudrun.data import models

MODEL = "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"
HEADER = (
    "provider,service,region,instance_type,gpu_model,gpu_count,gpu_memory_gb,vcpus,memory_gb,"
    "price_per_hour_usd,spot_price_per_hour_usd,source,as_of"
)
ROW = {"provider": "aws", "service": "sagemaker", "region": "us-east-1", "instance_type": "ml.g5.12xlarge",
       "gpu_model": "A10G", "gpu_count": "4", "gpu_memory_gb": "24", "vcpus": "48", "memory_gb": "192",
       "price_per_hour_usd": "7.09", "spot_price_per_hour_usd": "", "source": "my quote",
       "as_of": "2026-11-01"}  # fmt: skip
GRANT = {"provider": "aws", "amount_usd": 100, "expires_at": "2027-06-01T00:00:00Z", "gpu_eligible": True,
         "services": ["sagemaker"]}  # fmt: skip
BASE_CONFIG = json.loads((Path(models.__file__).parent / "deepseek-r1-distill-qwen-7b.json").read_text())


def config(**fields: object) -> str:
    """A config.json of the 7B model with some fields changed (NaN and Infinity written as JSON tokens)."""
    return json.dumps({**BASE_CONFIG, **fields})


def catalog(**fields: str) -> str:
    return HEADER + "\n" + ",".join({**ROW, **fields}.values()) + "\n"


def credits(**fields: object) -> str:
    return json.dumps([{**GRANT, **fields}])


# (command with FILE where the file goes, the file's text or bytes, a fragment the one-line message must hold)
CASES = {
    # An unknown --provider was silently ignored by the panic button and the reaper; "" meant every provider.
    "down --all, unknown provider": (["down", "--all", "--provider", "awz", "--yes"], None, "unknown provider 'awz'"),
    "teardown, unknown provider": (["teardown", "--idle", "30m", "--provider", "awz", "--yes"], None, "'awz'"),
    "watch, unknown provider": (["watch", "--once", "--provider", "awz"], None, "unknown provider 'awz'"),
    "plan, empty provider": (["plan", MODEL, "--provider", ""], None, "unknown provider ''"),
    "credits sync, empty provider": (["credits", "sync", "--provider", ""], None, "unknown provider ''"),
    # The --credits file now keeps the rules of `credits add`.
    "credits file in EUR": (["plan", MODEL, "--credits", "FILE"], credits(currency="EUR"), "USD only"),
    "credits file expiring before it starts": (["plan", MODEL, "--credits", "FILE"],
                                               credits(starts_at="2028-01-01"), "must be after it starts"),
    "credits file, amount 1e400": (["plan", MODEL, "--credits", "FILE"], credits(amount_usd="1e400"), "$1,000,000"),
    "credits file, expiry in 2999": (["plan", MODEL, "--credits", "FILE"], credits(expires_at="2999-01-01"), "2100"),
    "credits file, made-up service": (["plan", MODEL, "--credits", "FILE"], credits(services=["nonsense"]),
                                      "'nonsense' is not a service"),
    "credits file, name not text": (["plan", MODEL, "--credits", "FILE"], credits(name=["x"]), "field name"),
    "credits file, unknown field": (["plan", MODEL, "--credits", "FILE"], credits(expires="2027-01-01"),
                                    "unknown field 'expires'"),
    # Tracebacks.
    "config field of the wrong type": (["size", "--config", "FILE"], config(num_key_value_heads="4"),
                                       "'num_key_value_heads'"),
    "config NaN": (["size", "--config", "FILE"], config(head_dim=float("nan")), "NaN"),
    "config Infinity": (["size", "--config", "FILE"], config(num_key_value_heads=float("inf")), "Infinity"),
    "config quantization_config as text": (["size", "--config", "FILE"], config(quantization_config="fp8"),
                                           "'quantization_config' must be an object"),
    "config 5,000-digit number": (["size", "--config", "FILE"], config(vocab_size="N").replace('"N"', "1" + "0" * 5000),
                                  "digits"),
    "config nested 100,000 deep": (["size", "--config", "FILE"], '{"a":' + "[" * 100_000 + "]" * 100_000 + "}",
                                   "nests deeper than 32"),
    "credits file nested 100,000 deep": (["plan", MODEL, "--credits", "FILE"], "[" * 100_000 + "]" * 100_000,
                                         "nests deeper"),
    "credits file, invalid UTF-8": (["plan", MODEL, "--credits", "FILE"], b'[{"provider": "\xff"}]', "not UTF-8"),
    "credits file, date at the calendar's end": (["plan", MODEL, "--credits", "FILE"],
                                                 credits(expires_at="9999-12-31T23:59:59-05:00"), "2100"),
    "credits file, date at the calendar's start": (["plan", MODEL, "--credits", "FILE"],
                                                   credits(expires_at="0001-01-01T00:00:00+05:00"), "2000"),
    "credits add, date at the calendar's end": (["credits", "add", "--provider", "aws", "--amount", "5",
                                                 "--expires", "9999-12-31T23:59:59-05:00"], None, "2100"),
    "catalog field past the csv limit": (["plan", MODEL, "--catalog", "FILE"], catalog(source="x" * 200_000),
                                         "field larger than field limit"),
    "teardown --idle 9999999999d": (["teardown", "--idle", "9999999999d", "--yes"], None, "longer than a year"),
    "deploy --ttl 9999999999d": (["deploy", MODEL, "--ttl", "9999999999d", "--dry-run"], None, "longer than a year"),
    "Google project id with ../": (["deploy", MODEL, "--provider", "gcp", "--project", "../x", "--yes"], None,
                                   "--project '../x'"),
    "rich markup in a flag": (["plan", MODEL, "--region", "[/x]"], None, "'[/x]'"),
    "metrics --port 70000": (["metrics", "--port", "70000"], None, "--port"),
    # Nonsense accepted with exit 0.
    "negative KV heads": (["size", "--config", "FILE"], config(num_key_value_heads=-4), "'num_key_value_heads'"),
    "negative head_dim": (["size", "--config", "FILE"], config(head_dim=-128), "'head_dim'"),
    "more heads than the hidden size": (["size", "--config", "FILE"], config(hidden_size=16), "more heads"),
    "KV heads that do not divide the heads": (["size", "--config", "FILE"], config(num_key_value_heads=5),
                                              "key-value heads"),
    '"tie_word_embeddings": "no"': (["size", "--config", "FILE"], config(tie_word_embeddings="no"),
                                    "'tie_word_embeddings' must be true or false"),
    "config _name_or_path not text": (["size", "--config", "FILE"], config(_name_or_path={"a": 1}), "must be text"),
    "price of 1e300": (["plan", MODEL, "--catalog", "FILE"], catalog(price_per_hour_usd="1e300"), "price_per_hour"),
    "price of 1e-300": (["plan", MODEL, "--catalog", "FILE"], catalog(price_per_hour_usd="1e-300"), "price_per_hour"),
    "1e30 GB GPUs": (["plan", MODEL, "--catalog", "FILE"], catalog(gpu_memory_gb="1e30"), "gpu_memory_gb"),
    "as_of in 2999": (["plan", MODEL, "--catalog", "FILE"], catalog(as_of="2999-01-01"), "as_of"),
    "made-up region": (["plan", MODEL, "--catalog", "FILE"], catalog(region="mars-north-1"), "'mars-north-1'"),
    "full-width region": (["plan", MODEL, "--catalog", "FILE"], catalog(region="ｕｓ-ｅａｓｔ-１"), "region"),
    "30-digit vCPU count": (["plan", MODEL, "--catalog", "FILE"], catalog(vcpus="9" * 30), "vcpus"),
    # Python 3.11+ reads the NUL and the field check names it; 3.10's csv refuses the line itself: both say where.
    "NUL in a source": (["plan", MODEL, "--catalog", "FILE"], catalog(source="a\0b"), "line 2"),
    "full-width digits": (["plan", MODEL, "--catalog", "FILE"], catalog(gpu_count="４"), "gpu_count"),
    "deploy --name ''": (["deploy", MODEL, "--name", "", "--dry-run"], None, "deployment name ''"),
    "deploy --instance-type ''": (["deploy", MODEL, "--instance-type", "", "--dry-run"], None, "--instance-type"),
    "teardown --idle 0.0000001s": (["teardown", "--idle", "0.0000001s", "--yes"], None, "shorter than a second"),
    "watch --interval 0.001s": (["watch", "--once", "--interval", "0.001s"], None, "shorter than a second"),
    "credits add --amount 1e400": (["credits", "add", "--provider", "aws", "--amount", "1e400", "--expires",
                                    "2027-01-01"], None, "$1,000,000"),
    "credits add --services nonsense": (["credits", "add", "--provider", "aws", "--amount", "5", "--expires",
                                         "2027-01-01", "--services", "nonsense"], None, "'nonsense'"),
    "credits add --name ''": (["credits", "add", "--preset", "azure-students", "--name", ""], None, "name"),
    "plan --hours 1e308": (["plan", MODEL, "--hours", "1e308"], None, "--hours"),
    "size --concurrency 10^30": (["size", MODEL, "--concurrency", "1" + "0" * 30], None, "--concurrency"),
    "deploy --max-price 1e400": (["deploy", MODEL, "--max-price", "1e400", "--dry-run"], None, "--max-price"),
    "watch --monthly-cap 1e400": (["watch", "--once", "--monthly-cap", "1e400"], None, "--monthly-cap"),
    "teardown --concurrency 10^9": (["teardown", "--idle", "30m", "--concurrency", "1000000000", "--yes"], None,
                                    "--concurrency"),
    "invoke --max-tokens -5": (["invoke", "r1", "--max-tokens", "-5"], None, "--max-tokens"),
    # A usage error, not a failure to deploy (exit 1 and 3 before).
    "deploy --role not-an-arn": (["deploy", MODEL, "--provider", "aws", "--role", "not-an-arn", "--yes"], None,
                                 "--role 'not-an-arn'"),
    "deploy --subscription ../x": (["deploy", MODEL, "--provider", "azure", "--subscription", "../x", "--yes"], None,
                                   "--subscription"),
}  # fmt: skip


@pytest.mark.parametrize(("args", "content", "message"), list(CASES.values()), ids=list(CASES))
def test_bad_input_is_exit_2_one_line_and_writes_nothing(tmp_path, args, content, message):
    if content is not None:
        path = tmp_path / "input"
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        args = [str(path) if arg == "FILE" else arg for arg in args]
    result = CliRunner().invoke(app, args)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert not paths.state_path().exists()  # not even an empty state file


def limited(seconds: int = 60, memory_bytes: int = 2 * 1024**3):
    """A subprocess runner with a time and a memory cap: what used to exhaust the machine fails here, in bounds."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cloudrun", *args], capture_output=True, text=True,
                              timeout=seconds, preexec_fn=cap, env=dict(os.environ), check=False)  # fmt: skip

    return run


@pytest.mark.parametrize(
    ("args", "content", "message"),
    [
        (["size", "--config", "FILE"], config(num_hidden_layers=10**9), "'num_hidden_layers'"),
        (["plan", MODEL, "--catalog", "FILE"], catalog(gpu_count="9" * 20), "gpu_count"),
        (["plan", MODEL, "--catalog", "/dev/zero"], None, "not a regular file"),
    ],
    ids=["a billion layers", "a 20-digit GPU count", "/dev/zero as a catalog"],
)
def test_inputs_that_exhausted_the_machine_are_refused_in_bounds(tmp_path, args, content, message):
    if content is not None:
        (tmp_path / "input").write_text(content)
        args = [str(tmp_path / "input") if arg == "FILE" else arg for arg in args]
    done = limited()(*args)
    assert done.returncode == 2, done.stderr[-500:]
    assert done.stderr.strip().startswith("error: ") and message in done.stderr and "\n" not in done.stderr.strip()
