"""`watch` as a service (cloudrun/teardown/service.py, health.py; cloudrun/state/leases.py): on one database,
SQLite and PostgreSQL alike, two watchers elect one leader, and the other takes over when the leader stops or
stops renewing; SIGTERM finishes the check and gives the lease back; logs are JSON lines; /healthz says 200 or 503."""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from cloudrun.state import StateStore, leases
from cloudrun.teardown import service
from cloudrun.teardown.deletion import TeardownReport
from tests.factories import NOW

TTL = timedelta(minutes=2)


def test_a_lease_is_held_by_one_renewed_by_it_and_taken_over_once_expired(database_url: str) -> None:
    with StateStore(url=database_url) as state:
        first = leases.acquire(state, "watch", TTL, holder="a:1", now=NOW)
        assert first.mine and first.expires_at == NOW + TTL
        refused = leases.acquire(state, "watch", TTL, holder="b:2", now=NOW + timedelta(seconds=30))
        assert not refused.mine and refused.holder == "a:1"
        renewed = leases.acquire(state, "watch", TTL, holder="a:1", now=NOW + timedelta(minutes=1))
        assert renewed.mine and renewed.acquired_at == NOW and renewed.expires_at == NOW + timedelta(minutes=3)
        taken = leases.acquire(state, "watch", TTL, holder="b:2", now=NOW + timedelta(minutes=3))
        assert taken.mine and taken.holder == "b:2"
        assert not leases.release(state, "watch", holder="a:1")  # not a's any more
        assert leases.release(state, "watch", holder="b:2")
        assert leases.holder_of(state, "watch") is None
        details = [e["detail"] for e in state.events("lease:watch")]
        assert details == ["taken by a:1", "taken from a:1 (expired) by b:2", "released by b:2"]


def test_two_watchers_on_one_database_elect_one_leader(database_url: str) -> None:
    checked: list[str] = []
    watchers = [service.Health(interval_s=60, me=me) for me in ("host-a:1", "host-b:2")]

    def check_as(health: service.Health) -> TeardownReport:
        def check(_state: StateStore) -> TeardownReport:
            checked.append(health.me)
            return TeardownReport()

        return service.led_check(lambda: StateStore(url=database_url), check, health)

    reports = [check_as(w) for _ in range(3) for w in random.Random(7).sample(watchers, 2)]
    assert len(set(checked)) == 1 and len(checked) == 3  # one leader, which checked each round; never both
    leader = next(w for w in watchers if w.me == checked[0])
    follower = next(w for w in watchers if w is not leader)
    assert leader.leader and not follower.leader and follower.holder == leader.me
    assert sum(r.standby is not None for r in reports) == 3
    assert all(leader.me in r.standby for r in reports if r.standby)

    service.step_down(lambda: StateStore(url=database_url), leader)  # a graceful stop hands over at once
    assert check_as(follower).standby is None and checked[-1] == follower.me and follower.leader
    assert check_as(leader).standby is not None


def test_health_is_ok_while_checks_are_on_time_and_not_failing() -> None:
    health = service.Health(interval_s=60)
    start = health.started_at
    assert health.report(start + timedelta(seconds=30))[0] == 200
    assert health.report(start + timedelta(minutes=5))[1]["status"] == "late"
    health.last_check_at, health.last_problems = start + timedelta(minutes=4), ["aws: throttled"]
    assert health.report(start + timedelta(minutes=5)) == (503, {
        "status": "failing", "leader": False, "lease_holder": None,
        "last_check_at": (start + timedelta(minutes=4)).isoformat(), "problems": ["aws: throttled"],
    })  # fmt: skip
    health.last_problems, health.stopping = [], True
    assert health.report(start + timedelta(minutes=5))[1]["status"] == "stopping"


def test_a_health_port_in_use_is_a_one_line_usage_error(tmp_path: Path) -> None:
    env = {**os.environ, "CLOUDRUN_HOME": str(tmp_path)}
    first, port = watcher(tmp_path, env)
    try:
        done = subprocess.run([sys.executable, "-m", "cloudrun", "watch", "--once", "--health-port", str(port)],
                              capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
        assert done.returncode == 2
        assert f"--health-port {port}: cannot listen on 127.0.0.1:{port}" in done.stderr and "bug" not in done.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=60) == 0


def test_json_log_lines_are_one_object_each() -> None:
    record = logging.LogRecord("cloudrun.teardown", logging.INFO, __file__, 1, "deleted %s: %s", ("ds", "idle"), None)
    entry = json.loads(service.JsonLines().format(record))
    assert entry["level"] == "info" and entry["message"] == "deleted ds: idle" and entry["time"].endswith("+00:00")


# --- the command, as a service manager runs it -------------------------------------------------------------------


def watcher(home: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
    """Start `watch` with /healthz on a free port; return the process and the port it logged."""
    command = [sys.executable, "-m", "cloudrun", "watch", "--interval", "1s", "--log-format", "json",
               "--health-port", "0"]  # fmt: skip
    proc = subprocess.Popen(command, env={**env, "CLOUDRUN_HOME": str(home)}, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    serving = log_lines(proc, "health: serving")[-1]["message"]
    return proc, int(serving.rsplit(":", 1)[1])


def log_lines(proc: subprocess.Popen[str], until: str, timeout: float = 60) -> list[dict[str, str]]:
    """Read the watcher's JSON log lines until one's message starts with `until`; return them all."""
    lines: list[dict[str, str]] = []
    deadline = time.monotonic() + timeout
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(json.loads(line))  # every line is one JSON object, or this fails
        if lines[-1]["message"].startswith(until):
            return lines
    raise AssertionError(f"no {until!r} in {lines}")


def healthz(port: int) -> tuple[int, dict[str, object]]:
    """GET /healthz from another process (this one may not open sockets: tests/conftest.py)."""
    probe = (f"import urllib.request, urllib.error, json\ntry:\n r = urllib.request.urlopen('http://127.0.0.1:{port}"
             "/healthz', timeout=10); print(r.status, r.read().decode())\nexcept urllib.error.HTTPError as e:\n"
             " print(e.code, e.read().decode())")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=30, check=True)
    status, _, body = done.stdout.partition(" ")
    return int(status), json.loads(body)


def test_two_watcher_processes_elect_one_and_sigterm_hands_over(database_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "CLOUDRUN_DATABASE_URL": database_url}
    with StateStore(url=database_url):  # created before both start
        pass
    first, first_port = watcher(tmp_path / "a", env)
    try:
        log_lines(first, "leader")
        second, second_port = watcher(tmp_path / "b", env)
        ports = [first_port, second_port]
        try:
            assert "leads until" in log_lines(second, "standby")[-1]["message"]
            assert healthz(ports[0])[1]["leader"] is True
            status, body = healthz(ports[1])
            assert status == 200 and body["leader"] is False and body["lease_holder"] == f"{os.uname()[1]}:{first.pid}"
            first.send_signal(signal.SIGTERM)
            ours = [line for line in log_lines(first, "lease released") if line["logger"] != "py.warnings"]
            assert ours[0]["message"].startswith("SIGTERM")  # (py.warnings: an SDK's warning, as a JSON line too)
            assert first.wait(timeout=60) == 0
            log_lines(second, "leader")  # at its next check, not at the lease's expiry
            assert healthz(ports[1])[1]["leader"] is True
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=60) == 0, second.stderr.read() if second.stderr else ""
    finally:
        if first.poll() is None:
            first.kill()


def test_the_dockerfile_and_the_documented_commands_use_flags_watch_has() -> None:
    from typer.main import get_command

    from cloudrun.cli import app

    watch = get_command(app).get_command(None, "watch")  # type: ignore[attr-defined]  (commands load lazily)
    flags = {opt for param in watch.params for opt in param.opts}
    root = Path(__file__).resolve().parents[1]
    lines = [line for line in (root / "Dockerfile").read_text().splitlines() if line.startswith("CMD")]
    team = (root / "docs" / "team.md").read_text().splitlines()
    lines += [line for i, line in enumerate(team) if "cloudrun watch" in line or '"watch"' in line
              or '"watch"' in team[i - 1]]  # fmt: skip (a YAML args list goes on over two lines)
    used = {word.strip('"[],') for line in lines for word in line.split() if word.strip('"[],').startswith("--")}
    assert {"--log-format", "--health-port", "--once"} <= used
    assert used <= flags


def test_with_json_logs_a_library_warning_is_a_json_line_too(capsys) -> None:
    import logging
    import warnings

    from cloudrun.cli import teardown as teardown_cli

    loggers = [logging.getLogger(name) for name in ("cloudrun.teardown", "py.warnings")]
    before = [(logger.handlers[:], logger.propagate, logger.level) for logger in loggers]
    try:
        teardown_cli._log_to_stderr("json")
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn("this SDK drops Python 3.10 soon", FutureWarning, stacklevel=1)
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
        assert [line["logger"] for line in lines] == ["py.warnings"] and "Python 3.10" in lines[0]["message"]
    finally:
        logging.captureWarnings(False)
        for logger, (handlers, propagate, level) in zip(loggers, before, strict=True):
            logger.handlers[:], logger.propagate = handlers, propagate
            logger.setLevel(level)
