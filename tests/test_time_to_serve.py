"""Time to serve learns from the user's own history: the median create-to-in-service time of past deployments of the
same model, precision, instance type and GPU count, loading from the same place, read from a real state file."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone

from typer.testing import CliRunner

from cloudrun import paths, time_to_serve
from cloudrun.cli import app
from cloudrun.models import Precision
from cloudrun.state import StateStore
from cloudrun.state import staged as staged_store
from cloudrun.state.staged import StagedCopy
from tests.factories import NOW, need
from tests.test_state import ref, spec

MODEL = "deepseek-ai/deepseek-llm-67b-chat"


def deployed(state: StateStore, name: str, took_s: float | None, *, at: datetime = NOW, **changes: object) -> None:
    """Record a deployment created at `at` that reached service `took_s` later (None: never did)."""
    state.record_intent(spec(name, **changes), price_per_hour_usd=1, price_source="test", now=at)
    state.mark_creating(name, ref(name), now=at)
    if took_s is not None:
        state.mark_ready(name, now=at + timedelta(seconds=took_s))


def copy_of(model: str, staged_at: datetime) -> StagedCopy:
    return StagedCopy(uri=f"s3://cloudrun-weights-x-us-east-1/{model}/abc/cloudrun-manifest.json", provider="aws",
                      region="us-east-1", model_id=model, revision="abc", total_bytes=10, files=1,
                      staged_at=staged_at)  # fmt: skip


def test_the_median_of_matching_deployments_and_nothing_else():
    with StateStore() as state:
        for i, took in enumerate([600, 1200, 900]):
            deployed(state, f"hub-{i}", took, at=NOW - timedelta(days=3, hours=i))
        deployed(state, "never-ready", None, at=NOW - timedelta(days=3))
        deployed(state, "other-type", 60, at=NOW - timedelta(days=3), instance_type="ml.p4d.24xlarge")
        deployed(state, "other-precision", 60, at=NOW - timedelta(days=3), precision=Precision.int4)
        deployed(state, "other-model", 60, at=NOW - timedelta(days=3), model_id="Qwen/Qwen2-7B")
        staged_store.record(state, copy_of(MODEL, NOW - timedelta(days=2)))
        deployed(state, "staged", 300, at=NOW - timedelta(days=1))
        state.mark_deleted("staged", now=NOW)  # removed deployments count: their times were real
    model = dataclasses.replace(need(weights_gb=134.9), id=MODEL.upper())  # model ids match ignoring case
    estimate = time_to_serve.estimate(model, 8, instance_type="ml.g5.48xlarge", past=time_to_serve.history())
    assert estimate.hub_measured == time_to_serve.Measured(900, 3)
    assert estimate.staged_measured == time_to_serve.Measured(300, 1)
    assert "15 min from the Hub (measured: 3 deploys; stated" in estimate.describe()
    assert "5 min staged in-region (measured: 1 deploy; stated" in estimate.describe()
    elsewhere = time_to_serve.estimate(model, 4, instance_type="ml.g5.24xlarge", past=time_to_serve.history())
    assert (elsewhere.hub_measured, elsewhere.staged_measured) == (None, None)
    assert "measured" not in elsewhere.describe()


def test_a_copy_removed_before_the_deployment_does_not_make_it_staged():
    later = datetime.now(timezone.utc) + timedelta(hours=1)  # after the removal below, stamped with the real clock
    with StateStore() as state:
        staged_store.record(state, copy_of(MODEL, NOW - timedelta(days=2)))
        staged_store.mark_removed(state, "aws", "us-east-1", MODEL)
        deployed(state, "after-rm", 700, at=later)
    [past] = time_to_serve.history()
    assert (past.staged, past.seconds, past.instance_type) == (False, 700, "ml.g5.48xlarge")


def test_no_state_file_means_the_stated_estimate_and_no_file_made():
    assert time_to_serve.history() == []
    assert not paths.state_path().exists()


def plan_json() -> dict:
    result = CliRunner().invoke(app, ["plan", MODEL, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_plan_shows_the_users_measured_times_for_its_first_option():
    first = plan_json()
    assert first["time_to_serve_s"]["measured"] == {"hub": None, "staged": None}
    assert not paths.state_path().exists()  # plan on a fresh machine makes no state file
    option = next(o for o in first["options"] if o["feasible"])
    with StateStore() as state:
        for i, took in enumerate([1500, 1700]):
            deployed(state, f"mine-{i}", took, provider=option["provider"], region=option["region"],
                     instance_type=option["instance_type"], gpu_count=option["gpu_count"])  # fmt: skip
    again = plan_json()
    assert again["time_to_serve_s"]["measured"] == {"hub": {"median_s": 1600, "deploys": 2}, "staged": None}
    assert again["time_to_serve_s"]["hub"] == first["time_to_serve_s"]["hub"]  # the stated estimate stays beside
    text = CliRunner().invoke(app, ["plan", MODEL]).stdout
    assert "27 min from the Hub (measured: 2 deploys; stated" in " ".join(text.split())
