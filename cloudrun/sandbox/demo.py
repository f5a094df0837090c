"""`cloudrun sandbox demo`: the full cycle against the emulated clouds, in one process, as a transcript.

plan -> deploy --cheapest -> status -> invoke -> teardown --idle (kept: it was just called) -> down -> status,
through the same api functions and
renderers the commands use, with a throw-away CLOUDRUN_HOME so it never touches your real state.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from rich.console import Console

from cloudrun import api, teardown
from cloudrun.cli import plan_json, render_deploy
from cloudrun.cli.teardown import print_report
from cloudrun.deployer import WaitPolicy
from cloudrun.inputs import parse_duration
from cloudrun.sandbox import aws, clouds, session
from cloudrun.state import StateStore
from cloudrun.teardown.idle import Policy


def run(model: str, console: Console) -> None:
    """Deploy `model` to the cheapest emulated placement, call it, remove it, and print each step."""
    saved = dict(os.environ)
    sandbox = clouds.start(startup_s=2.0)
    try:
        with tempfile.TemporaryDirectory(prefix="cloudrun-sandbox-") as home:
            session.use(Path(home), sandbox.info)
            aws.seed_chat_replies(sandbox.info["aws"], model)
            _cycle(model, console)
    finally:
        sandbox.stop()
        os.environ.clear()
        os.environ.update(saved)


IDLE_TEXT = "5s"
IDLE_WINDOW = parse_duration(IDLE_TEXT)  # short, so the demo can show the idle rule without waiting long


def _wait_in_service_for(state: StateStore, name: str, age: timedelta) -> None:
    """Sleep until the deployment has been in service for `age` (the idle rule ignores younger endpoints)."""
    row = state.get(name)
    ready = row.ready_at if row and row.ready_at else datetime.now(timezone.utc)
    time.sleep(max(0.0, (ready + age - datetime.now(timezone.utc)).total_seconds()))


def _step(console: Console, command: str) -> None:
    """Print the command a user would type, whole (a rule would cut it at a narrow terminal)."""
    console.print()
    console.print(f"$ {command}", style="bold", highlight=False, markup=False)


def _cycle(model: str, console: Console) -> None:
    load = api.provider_loader()
    console.print(
        f"[dim]sandbox (no account, no spend): AWS is moto's server at {os.environ['AWS_ENDPOINT_URL']}, Vertex AI "
        f"a REST fake at {os.environ['CLOUDRUN_VERTEX_API_ENDPOINT']}, Azure ML an ARM fake at "
        f"{os.environ['CLOUDRUN_AZURE_ARM_ENDPOINT']}"
    )
    _step(console, f"cloudrun deploy {model} --cheapest --sandbox --yes")
    plan = api.prepare_deploy(model, cheapest=True, hours=1)
    render_deploy.print_deploy_plan(console, plan)
    with StateStore() as state:
        with render_deploy.progress(console) as update:
            result = api.deploy(
                plan,
                state,
                load,
                progress=update,
                policy=WaitPolicy(first_s=0.2, max_s=1.0),
                approve=lambda _option: True,
            )  # the demo runs as `deploy --yes`
        render_deploy.print_deployed(console, result, sandbox=True)
        name = result.deployment.name
        _step(console, "cloudrun status --refresh --sandbox")
        rows, report = api.status(state, load, refresh=True)
        render_deploy.print_status(console, rows, report, datetime.now(timezone.utc))
        _wait_in_service_for(state, name, IDLE_WINDOW)
        _step(console, f'cloudrun invoke {name} "Say hello in one sentence." --sandbox')
        console.print(render_deploy.reply_text(api.invoke(state, load, name, "Say hello in one sentence.")))
        _step(console, f"cloudrun teardown --idle {IDLE_TEXT} --dry-run --sandbox")
        report = teardown.check(state, load, Policy(idle_for=IDLE_WINDOW), dry_run=True)
        print_report(console, report)  # the call just made is in the cloud's own metrics: kept, not idle
        _step(console, f"cloudrun down {name} --sandbox --yes")
        final = api.down(state, load, name)
        console.print(f"removed {final.deployment.name} ({final.deployment.status.value}): "
                      f"{', '.join(final.removal.removed) or 'nothing was left in the cloud'}")  # fmt: skip
        _step(console, "cloudrun status --refresh --sandbox")
        rows, report = api.status(state, load, refresh=True)
        render_deploy.print_status(console, rows, report, datetime.now(timezone.utc))
    console.print(f"[green]sandbox cycle done[/green]: deployed, called and removed {name}; "
                  f"{plan_json.gb(plan.plan.need.weights_bytes)} of weights would have been served.")  # fmt: skip
