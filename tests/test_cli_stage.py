"""`cloudrun stage`, `stage list`, `stage rm`, `deploy --warmup` through typer's CliRunner, moto in process and the
fake Hub on loopback: one JSON document with --json, bad input exit 2 in one line, the gated model's fix, confirmation
before deleting, and the warm-up's payloads and report."""

from __future__ import annotations

import json

import pytest

from cloudrun import warmup
from cloudrun.errors import InvalidInput
from tests.hub_fixtures import serve_hub
from tests.test_cli_deploy import MODEL, WHERE, cloud, one_json_document, one_line_error, run  # noqa: F401

pytestmark = [pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]


@pytest.fixture
def hub(monkeypatch, cloud):  # noqa: F811
    yield from serve_hub(monkeypatch, 64 * 1024)


def test_stage_json_list_and_rm_with_confirmation(hub):
    staged = one_json_document(run("stage", MODEL, *WHERE, "--json"))
    assert staged["sent_bytes"] == staged["total_bytes"] > 0 and staged["uri"].startswith("s3://cloudrun-weights-")
    assert "aws.amazon.com/s3/pricing" in staged["storage_price_source"]
    assert staged["in_cloud_note"] is None  # a few MB over loopback: no machine in the cloud would beat it
    listed = one_json_document(run("stage", "list", "--json"))
    assert [c["uri"] for c in listed["staged"]] == [staged["uri"]]
    assert one_json_document(run("status", "--json"))["staged_weights"]["copies"] == 1
    dry = one_json_document(run("stage", "rm", MODEL, *WHERE, "--dry-run", "--json"))
    assert dry["dry_run"] and dry["objects"][0].endswith("cloudrun-manifest.json")
    one_line_error(run("stage", "rm", MODEL, *WHERE), 1)  # no terminal to confirm on: nothing deleted
    assert one_json_document(run("stage", "list", "--json"))["staged"]
    removed = one_json_document(run("stage", "rm", MODEL, *WHERE, "--yes", "--json"))
    assert removed["objects"] == dry["objects"]
    assert one_json_document(run("stage", "list", "--json"))["staged"] == []


def test_a_gated_model_without_a_token_exits_2_with_the_fix(hub):
    line = one_line_error(run("stage", "meta-llama/Llama-3.1-8B-Instruct", *WHERE), 2)
    assert "gated" in line and "HF_TOKEN" in line


@pytest.mark.parametrize(
    ("args", "words"),
    [(["--provider", "nope", "--region", "us-east-1"], "unknown provider"),
     (["--provider", "aws", "--region", "us-central1"], "is not one of aws's regions")],
)  # fmt: skip
def test_bad_provider_or_region_exits_2_before_any_call(hub, args, words):
    assert words in one_line_error(run("stage", MODEL, *args), 2)
    assert hub.state.seen == []


def test_deploy_warmup_sends_prompts_after_in_service_and_reports_time_and_tokens(cloud, tmp_path):  # noqa: F811
    import requests

    reply = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}],
             "usage": {"prompt_tokens": 5, "completion_tokens": 2}}  # fmt: skip
    seed = {"region": "us-east-1", "results": [{"Body": json.dumps(reply), "ContentType": "application/json"}] * 2}
    requests.post("http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results", json=seed, timeout=5)
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"prompt": "hello"}\n\n{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}\n')
    doc = one_json_document(run("deploy", MODEL, *WHERE, "--instance-type", "ml.g5.2xlarge", "--yes", "--json",
                                "--warmup", str(prompts)))  # fmt: skip
    assert doc["status"] == "in_service" and doc["warmup"]["requests"] == 2
    assert (doc["warmup"]["prompt_tokens"], doc["warmup"]["completion_tokens"]) == (10, 4)
    assert doc["warmup"]["seconds"] >= 0 and doc["time_to_serve_s"] is not None


def test_warmup_payloads_are_checked_before_anything_is_created(tmp_path):
    assert len(warmup.payloads("3")) == 3
    with pytest.raises(InvalidInput, match="1 to 1000"):
        warmup.payloads("0")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "ok"}\n{"text": "no"}\n')
    with pytest.raises(InvalidInput, match="bad.jsonl:2"):
        warmup.payloads(str(bad))
    report = warmup.run(lambda p: {"usage": {"prompt_tokens": 3, "completion_tokens": len(json.dumps(p)) % 7}},
                        warmup.payloads("2"))  # fmt: skip
    assert report.requests == 2 and report.prompt_tokens == 6
