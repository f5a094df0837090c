"""`cloudrun credits` and the planner reading the ledger, through typer's CliRunner."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from typer.testing import CliRunner

from cloudrun import paths
from cloudrun.cli import app
from cloudrun.models import DeploySpec, EndpointRef, Precision
from cloudrun.state import StateStore

runner = CliRunner()
MODEL = "deepseek-ai/deepseek-llm-67b-chat"
CATALOG_HEADER = (
    "provider,service,region,instance_type,gpu_model,gpu_count,gpu_memory_gb,vcpus,memory_gb,"
    "price_per_hour_usd,spot_price_per_hour_usd,source,as_of"
)


def invoke(*args: str):
    return runner.invoke(app, list(args))


def ok_json(*args: str) -> dict:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def days_from_today(days: int) -> str:
    return f"{datetime.now(timezone.utc) + timedelta(days=days):%Y-%m-%d}"


def add_the_three() -> None:
    for args in (
        ("--preset", "gcp-free-trial", "--starts", days_from_today(-10)),
        ("--preset", "aws-activate", "--amount", "5000", "--expires", days_from_today(200)),
        ("--preset", "azure-free-account", "--starts", days_from_today(-2)),
    ):
        result = invoke("credits", "add", *args)
        assert result.exit_code == 0, result.output


def test_done_when_credits_says_which_credit_pays_for_a_gpu_endpoint_and_for_how_long():
    add_the_three()
    doc = ok_json("credits")
    grants = {g["name"]: g for g in doc["grants"]}
    assert {n: g["pays_for_gpu"] for n, g in grants.items()} == {
        "gcp-free-trial": False, "aws-activate": True, "azure-free-account": False,
    }  # fmt: skip
    assert "upgraded" in grants["gcp-free-trial"]["gpu_note"]
    assert grants["gcp-free-trial"]["remaining_basis"].startswith("estimate")
    activate = grants["aws-activate"]
    assert activate["ends_by"] == "expiry" and 199 * 24 < activate["usable_for_hours"] <= 200 * 24
    assert grants["azure-free-account"]["expires_at"][:10] == days_from_today(28)
    assert doc["total"]["remaining_usd"] == 5500 and doc["total"]["gpu_eligible_remaining_usd"] == 5000


def test_done_when_plan_ranks_with_the_ledger_and_names_the_credit():
    add_the_three()
    doc = ok_json("plan", MODEL)
    best = doc["options"][0]
    assert best["service"] == "sagemaker" and best["out_of_pocket_usd"] == 0
    assert [p["grant"] for p in best["paid_by"]] == ["aws-activate"]
    assert all(p["grant"] == "aws-activate" for o in doc["options"] for p in o["paid_by"])  # trials pay no GPU


def test_plan_table_says_which_credit_pays_and_when_you_start_paying(tmp_path):
    add_the_three()
    catalog = tmp_path / "offers.csv"
    catalog.write_text(
        CATALOG_HEADER + "\n"
        "aws,sagemaker,us-east-1,ml.p4d.24xlarge,A100,8,40,96,1152,40.00,,my quote,2026-11-01\n"
        "gcp,vertex,us-central1,a2-ultragpu-8g,A100,8,80,96,1360,30.00,,my quote,2026-11-01\n"
    )
    # 200 h: SageMaker $8000 - $5000 Activate = $3000 beats Vertex $6000 (the trial cannot pay for GPUs)
    table = invoke("plan", MODEL, "--hours", "200", "--catalog", str(catalog))
    assert table.exit_code == 0, table.output
    assert "Cheapest: sagemaker ml.p4d.24xlarge" in table.output
    assert "paid by aws-activate: $5,000.00 for 125.0 h" in table.output
    assert "you would start paying after 125.0 h" in table.output


def test_a_credits_file_still_replaces_the_ledger(tmp_path):
    add_the_three()
    empty = tmp_path / "none.json"
    empty.write_text("[]")
    assert ok_json("plan", MODEL, "--credits", str(empty))["options"][0]["paid_by"] == []


def test_running_deployments_burn_shows_in_credits_and_in_what_the_planner_may_spend():
    invoke("credits", "add", "--provider", "aws", "--amount", "100", "--expires", days_from_today(30),
           "--gpu-eligible", "--name", "promo")  # fmt: skip
    spec = DeploySpec(name="ep", model_id="m", provider="aws", service="sagemaker", region="us-east-1",
                      instance_type="ml.g5.xlarge", gpu_count=1, tensor_parallel=1, context=4096,
                      precision=Precision.bf16)  # fmt: skip
    with StateStore() as store:
        store.record_intent(spec, price_per_hour_usd=Decimal(10), price_source="test")
        store.mark_creating("ep", EndpointRef(provider="aws", region="us-east-1", name="ep", endpoint_id="ep"))
        store.mark_ready("ep")
    [promo] = ok_json("credits")["grants"]
    assert promo["burn_usd_per_hour"] == 10 and promo["ends_by"] == "burn"
    assert 9.9 < promo["runway_hours"] <= 10 and promo["available_for_new_usd"] == 0
    assert all(not o["paid_by"] for o in ok_json("plan", MODEL)["options"])


def test_plan_without_a_ledger_creates_no_state_file():
    ok_json("plan", MODEL)
    assert not paths.state_path().exists()


def test_bad_input_is_refused_with_a_clear_message():
    cases = [
        (("--provider", "aws", "--amount", "-5", "--expires", "2030-01-01"), "never negative"),
        (("--provider", "aws", "--amount", "5", "--expires", "2030-01-01", "--currency", "EUR"), "USD only"),
        (
            ("--provider", "aws", "--amount", "5", "--starts", "2030-01-01", "--expires", "2029-01-01"),
            "after it starts",
        ),
        (("--preset", "gcp-free-trial", "--gpu-eligible"), "upgraded"),
        (("--preset", "nope"), "no credit preset"),
        (("--provider", "aws", "--amount", "5"), "--expires"),
    ]
    for args, message in cases:
        result = invoke("credits", "add", *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)


def test_remove_asks_unless_yes():
    invoke("credits", "add", "--preset", "azure-students")
    refused = invoke("credits", "remove", "azure-students")
    assert refused.exit_code == 1 and "--yes" in refused.output
    assert invoke("credits", "remove", "azure-students", "--yes").exit_code == 0
    assert ok_json("credits")["grants"] == []
    assert invoke("credits", "remove", "azure-students", "--yes").exit_code == 4


def test_sync_google_says_it_is_an_estimate_and_rejects_unknown_providers():
    invoke("credits", "add", "--preset", "gcp-free-trial")
    doc = ok_json("credits", "sync", "--provider", "gcp")
    assert doc["sync"][0]["source"] == "estimate" and "estimate" in doc["sync"][0]["note"]
    assert invoke("credits", "sync", "--provider", "oracle").exit_code == 2


def test_presets_are_listed_with_their_uncertainty():
    result = invoke("credits", "presets")
    assert result.exit_code == 0
    assert "gcp-free-trial" in result.output and "unverified" in result.output
