"""`cloudrun size` and `cloudrun plan` through typer's CliRunner: contracts, bad input, exit codes."""

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cloudrun.cli import app

runner = CliRunner()
MODEL = "deepseek-ai/deepseek-llm-67b-chat"
HEADER = (
    "provider,service,region,instance_type,gpu_model,gpu_count,gpu_memory_gb,vcpus,memory_gb,"
    "price_per_hour_usd,spot_price_per_hour_usd,source,as_of"
)
OPTION_FIELDS = {
    "provider", "service", "region", "instance_type", "gpu_model", "gpu_count", "gpu_memory_bytes",
    "tensor_parallel", "spot", "price_per_hour_usd", "hours", "list_cost_usd", "credits_applied_usd",
    "out_of_pocket_usd", "feasible", "reasons", "price_source", "price_as_of",
}  # fmt: skip


def invoke(*args: str):
    return runner.invoke(app, list(args))


def plan_json(*args: str) -> dict:
    result = invoke("plan", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_size_json_has_the_contract_fields():
    result = invoke("size", MODEL, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    for key in ("id", "params", "precision", "weights_bytes", "kv_bytes_per_token", "context", "concurrency",
                "required_bytes"):  # fmt: skip
        assert key in doc
    assert doc["precision"] == "bf16" and 134e9 < doc["weights_bytes"] < 136e9


def test_plan_for_67b_never_offers_less_gpu_memory_than_its_weights_and_spans_all_three_services():
    doc = plan_json(MODEL)
    weights = doc["model"]["weights_bytes"]
    assert doc["options"], "expected feasible options"
    for option in doc["options"]:
        assert set(option) >= OPTION_FIELDS
        assert option["feasible"] is True
        assert option["gpu_memory_bytes"] * option["tensor_parallel"] > weights
    assert {o["service"] for o in doc["options"]} == {"sagemaker", "vertex", "azureml"}
    costs = [(o["out_of_pocket_usd"], o["list_cost_usd"], o["gpu_count"]) for o in doc["options"]]
    assert costs == sorted(costs)


def test_all_adds_infeasible_offers_with_reasons():
    doc = plan_json(MODEL, "--all")
    infeasible = [o for o in doc["options"] if not o["feasible"]]
    assert infeasible and all(o["reasons"] for o in infeasible)
    assert all(o["feasible"] for o in doc["options"][: len(doc["options"]) - len(infeasible)])


def test_credits_file_changes_what_you_pay(tmp_path):
    credits = tmp_path / "credits.json"
    credits.write_text(
        json.dumps(
            [
                {
                    "name": "activate",
                    "provider": "aws",
                    "amount_usd": 100000,
                    "expires_at": "2099-01-01",
                    "gpu_eligible": True,
                    "services": ["sagemaker"],
                }
            ]
        )
    )
    doc = plan_json(MODEL, "--hours", "10", "--credits", str(credits))
    best = doc["options"][0]
    assert best["provider"] == "aws" and best["out_of_pocket_usd"] == 0
    assert best["credits_applied_usd"] == best["list_cost_usd"] > 0
    assert best["paid_by"][0]["grant"] == "activate"


def test_spot_only_on_vertex_and_only_when_asked():
    assert not any(o["spot"] for o in plan_json(MODEL)["options"])
    spot = [o for o in plan_json(MODEL, "--spot")["options"] if o["spot"]]
    assert spot and {o["service"] for o in spot} == {"vertex"}
    assert all(any("reclaimed" in r for r in o["reasons"]) for o in spot)


def test_provider_and_region_filters():
    doc = plan_json("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "--provider", "azure,aws", "--region", "us-east-1")
    assert doc["options"] and {o["region"] for o in doc["options"]} == {"us-east-1"}


def test_exclude_leaves_a_provider_out_as_the_quota_hints_say():
    everything = {o["provider"] for o in plan_json("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B")["options"]}
    doc = plan_json("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "--exclude", "aws", "--exclude", "gcp")
    assert everything == {"aws", "gcp", "azure"} and {o["provider"] for o in doc["options"]} == {"azure"}
    result = invoke("plan", "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "--exclude", "awz")
    assert result.exit_code == 2 and "unknown provider 'awz'" in result.output


def test_catalog_file_replaces_the_snapshot(tmp_path):
    catalog = tmp_path / "offers.csv"
    catalog.write_text(
        HEADER + "\n"
        "aws,sagemaker,us-east-1,ml.g5.48xlarge,A10G,8,24,192,768,10.00,,my quote,2026-11-01\n"
        "gcp,vertex,us-central1,a2-ultragpu-2g,A100,2,80,24,340,9.00,4.00,my quote,2026-11-01\n"
    )
    doc = plan_json(MODEL, "--catalog", str(catalog), "--hours", "2")
    assert [(o["instance_type"], o["list_cost_usd"]) for o in doc["options"]] == [
        ("a2-ultragpu-2g", 18.0),
        ("ml.g5.48xlarge", 20.0),
    ]
    assert doc["options"][0]["price_source"] == "my quote"


def test_table_output_shows_the_cheapest_and_price_sources():
    result = invoke("plan", MODEL, "--hours", "40")
    assert result.exit_code == 0, result.output
    assert "Cheapest:" in result.stdout and "`--sources` lists them" in result.stdout and "[1]" not in result.stdout
    listed = invoke("plan", MODEL, "--hours", "40", "--sources")
    assert "[1] " in listed.stdout  # each source numbered and listed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plan", "nobody/unknown-model"], "--config"),
        (["plan", MODEL, "--hours", "0"], "--hours must be a positive"),
        (["plan", MODEL, "--hours", "-3"], "--hours must be a positive"),
        (["plan", MODEL, "--context", "0"], "context"),
        (["plan", MODEL, "--provider", "ibm"], "ibm"),
        (["plan", MODEL, "--region", "mars-north-1"], "mars-north-1"),
        (["plan", MODEL, "--credits", "/nonexistent/credits.json"], "credits"),
        (["size", MODEL, "--precision", "fp16"], "fp16"),
    ],
)
def test_bad_input_is_a_one_line_error_with_exit_code_2(args, message):
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_malformed_catalog_names_row_and_field(tmp_path):
    catalog = tmp_path / "bad.csv"
    catalog.write_text(HEADER + "\naws,sagemaker,us-east-1,ml.g5.xlarge,A10G,1,24,4,16,abc,,x,2026-11-01\n")
    result = invoke("plan", MODEL, "--catalog", str(catalog))
    assert result.exit_code == 2
    assert "price_per_hour_usd" in result.output


def test_malformed_config_is_refused(tmp_path):
    config = tmp_path / "config.json"
    config.write_text('{"architectures": ["LlamaForCausalLM"]}')
    result = invoke("size", "--config", str(config))
    assert result.exit_code == 2 and "hidden_size" in result.output


def test_installed_console_script_runs_offline_and_imports_no_cloud_sdk(tmp_path):
    script = Path(sys.executable).with_name("cloudrun")
    env = dict(os.environ, CLOUDRUN_HOME=str(tmp_path), CLOUDRUN_OFFLINE="1")
    done = subprocess.run(
        [str(script), "plan", MODEL, "--json"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["options"]
    probe = (
        "import sys; from cloudrun.cli import app; from typer.testing import CliRunner;"
        f"r = CliRunner().invoke(app, ['plan', '{MODEL}', '--json']); assert r.exit_code == 0, r.output;"
        # google-cloud-aiplatform's .pth file imports the empty `google` and `google.cloud` namespaces at
        # interpreter start; only what lies below them is an SDK.
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'azure', 'moto', 'sqlalchemy',"
        " 'alembic', 'psycopg') "
        "or m.startswith(('google.cloud.', 'google.api_core', 'google.auth'))]; print(heavy)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def _dated_and_undated_catalog(tmp_path: Path) -> Path:
    rows = [
        "aws,sagemaker,us-east-1,ml.g5.48xlarge,A10G,8,24,192,768,20.36,,page read 2026-11-25,2026-11-25",
        "azure,azureml,eastus,Standard_ND96amsr_A100_v4,A100,8,80,96,1900,32.768,,a copy with no date,",
        "gcp,vertex,us-central1,a2-ultragpu-8g,A100,8,80,96,1360,27.1016,,another undated copy,undated",
    ]
    path = tmp_path / "offers.csv"
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_undated_prices_show_as_undated_and_count_as_old_in_json_and_table(tmp_path):
    path = _dated_and_undated_catalog(tmp_path)
    doc = plan_json(MODEL, "--catalog", str(path))
    as_of = {o["instance_type"]: o["price_as_of"] for o in doc["options"]}
    assert as_of == {"ml.g5.48xlarge": "2026-11-25", "Standard_ND96amsr_A100_v4": "undated",
                     "a2-ultragpu-8g": "undated"}  # fmt: skip
    assert doc["prices_oldest_as_of"] == "undated"  # an unknown age is the oldest
    result = runner.invoke(app, ["plan", MODEL, "--catalog", str(path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert result.output.count(" d)") == 1  # only the dated row shows an age in days
    assert "warning:" in result.output and "oldest price used: undated" in result.output


def test_a_dated_catalog_keeps_its_dates_and_no_stale_warning(tmp_path):
    row = "aws,sagemaker,us-east-1,ml.g5.48xlarge,A10G,8,24,192,768,20.36,,page,"
    today = datetime.now(timezone.utc).date().isoformat()
    path = tmp_path / "offers.csv"
    path.write_text(HEADER + "\n" + row + today + "\n", encoding="utf-8")
    assert plan_json(MODEL, "--catalog", str(path))["prices_oldest_as_of"] == today
    result = runner.invoke(app, ["plan", MODEL, "--catalog", str(path)], env={"COLUMNS": "200"})
    assert "warning:" not in result.output and "(0 days old)" in result.output
