"""`cloudrun sandbox`: local emulated clouds, so a newcomer can deploy, call and remove with no account."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time

import typer

from cloudrun.errors import CloudrunError, InvalidInput
from cloudrun.terminal import errors_to_exit, out

sandbox_app = typer.Typer(help="Local emulated clouds: deploy, call and remove endpoints with no account, no spend.",
                          no_args_is_help=True)  # fmt: skip

DEMO_MODEL = "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"
EXTRA_MODULES = ("moto", "cryptography")  # what the `sandbox` extra adds to the clouds' SDKs


def _needs_the_extra() -> None:
    """Refuse at once, with the install line, when the sandbox extra is missing (`[all]` leaves it out), instead of
    a traceback or a server that never starts."""
    missing = [name for name in EXTRA_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise InvalidInput(f"the sandbox needs {', '.join(missing)}, which is not installed",
                           hint="pip install 'cloudrun-llm[sandbox]'")  # fmt: skip


@sandbox_app.command("start")
@errors_to_exit
def start(timeout: float = typer.Option(30.0, "--timeout", help="Seconds to wait for the servers.")) -> None:
    """Start the emulated clouds in the background; then use `--sandbox` on deploy, status, invoke, down."""
    _needs_the_extra()
    from cloudrun.sandbox import session

    home = session.sandbox_home()
    info = session.server_info(home)
    if info:
        out.print(f"sandbox already running (aws at {info['aws']}, pid {info['pid']})")
        return
    info_file = home / session.SERVER_FILE
    log = (home / "server.log").open("ab")
    subprocess.Popen([sys.executable, "-m", "cloudrun.sandbox.serve", str(info_file)], stdout=log, stderr=log,
                     stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + timeout
    while not info_file.exists():
        if time.monotonic() > deadline:
            raise CloudrunError("the sandbox did not start in time", hint=f"see {home / 'server.log'}")
        time.sleep(0.1)
    info = session.server_info(home) or {}
    out.print(f"sandbox running: aws at {info.get('aws')} (pid {info.get('pid')}); state in {home}")
    out.print(f"try: cloudrun deploy {DEMO_MODEL} --cheapest --sandbox --yes")


@sandbox_app.command("stop")
@errors_to_exit
def stop() -> None:
    """Stop the emulated clouds (their contents are forgotten; the sandbox state folder is kept)."""
    from cloudrun.sandbox import session

    info = session.server_info(session.sandbox_home())
    if not info:
        out.print("no sandbox is running")
        return
    try:
        os.kill(int(info["pid"]), signal.SIGTERM)
    except ProcessLookupError:
        (session.sandbox_home() / session.SERVER_FILE).unlink(missing_ok=True)
    out.print("sandbox stopped")


@sandbox_app.command("demo")
@errors_to_exit
def demo(model: str = typer.Argument(DEMO_MODEL, help="The model to deploy in the sandbox.")) -> None:
    """Run the whole cycle in the sandbox: plan, deploy --cheapest, status, invoke, down. No account needed."""
    _needs_the_extra()
    from cloudrun.sandbox import demo as sandbox_demo

    sandbox_demo.run(model, out)
