"""Output that fits: at 80 and 160 columns, at a terminal or piped, no cell is cut short and no table line is wider
than the terminal; the names a user types next (deployment names, instance types) always appear whole."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from rich.console import Console

from cloudrun import api
from cloudrun.cli import render, render_deploy
from cloudrun.models import Deployment, DeploymentStatus

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def console(width: int, terminal: bool) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=width, force_terminal=terminal, color_system=None, soft_wrap=True), buffer


def table_lines(text: str) -> list[str]:
    """The lines of the table itself: from its header to the line before the first sentence under it."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("#"))
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("the "))
    return lines[start:end]


@pytest.mark.parametrize("width", [80, 160])
@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "piped"])
def test_the_plan_fits_and_cuts_nothing(width, terminal):
    plan = api.plan("deepseek-ai/deepseek-llm-67b-chat", hours=40, now=NOW)
    out, buffer = console(width, terminal)
    render.print_plan(out, plan, NOW)
    text = buffer.getvalue()
    assert "…" not in text
    for option in plan.options[: render.SHOWN_BY_DEFAULT]:
        assert option.offer.instance_type in text and option.offer.region in text
    assert all(len(line) <= width for line in table_lines(text))
    assert f"the 10 cheapest of {len(plan.options)} options" in text
    assert ("┃" in text or "━" in text or "─" in text) == terminal  # framed at a terminal, plain when piped


def deployment(name: str, model: str) -> Deployment:
    return Deployment(name=name, model_id=model, provider="azure", service="azureml", region="swedencentral",
                      instance_type="Standard_NC96ads_A100_v4", gpu_count=4, price_per_hour_usd=Decimal("14.692"),
                      price_source="test", status=DeploymentStatus.in_service,
                      created_at=NOW - timedelta(hours=3))  # fmt: skip


@pytest.mark.parametrize("width", [80, 160, 200])
def test_status_never_cuts_a_deployment_name(width):
    rows = [deployment("r1-distill-llama-70b-7f3a", "deepseek-ai/DeepSeek-R1-Distill-Llama-70B"),
            deployment("ds-67b-chat-2c9e", "deepseek-ai/deepseek-llm-67b-chat")]  # fmt: skip
    out, buffer = console(width, terminal=True)
    render_deploy.print_status(out, rows, None, NOW)
    text = buffer.getvalue()
    assert "…" not in text and all(row.name in text for row in rows)
    assert all(len(line) <= width for line in text.splitlines())
    assert ("DeepSeek-R1-Distill-Llama-70B" in text) == (width == 200)  # the model column goes first when narrow
