"""Shared fixtures. Sockets are disabled for every test (pytest-socket, see pyproject addopts):
no test can reach a real cloud or the Hugging Face Hub by accident. Unix sockets stay allowed: the throw-away
PostgreSQL server the state tests use (tests/postgres.py) is reached through its socket in its own temp dir."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import urllib3  # noqa: F401 - imported here, before sockets are disabled: it probes IPv6 with a socket at import


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Each test gets its own CLOUDRUN_HOME and never looks anything up online."""
    monkeypatch.setenv("CLOUDRUN_HOME", str(tmp_path / "cloudrun-home"))
    monkeypatch.setenv("CLOUDRUN_OFFLINE", "1")
    # Credential chains probe the cloud metadata servers (169.254.169.254) when nothing else is set up. pytest-socket
    # stops that in this process; these stop it in the subprocesses tests start: point them at a closed loopback port.
    monkeypatch.setenv("NO_GCE_CHECK", "true")
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:1")
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:1")
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[object]:
    """A PostgreSQL server of the session's own (tests/postgres.py), stopped and removed at the end."""
    from tests import postgres

    if postgres.binaries() is None:
        pytest.skip("no PostgreSQL binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin: install the"
                    " distribution's postgresql package (.ci/run does) to run the state suite on PostgreSQL too")
    server = postgres.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The URL of a new, empty state database: the default SQLite file, then a PostgreSQL database of its own.

    On PostgreSQL, CLOUDRUN_DATABASE_URL points at it, so every store the test opens (StateStore()) shares it.
    """
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cloudrun-home' / 'state.db'}"  # the default: paths.state_path()
    url = request.getfixturevalue("postgres_server").database()
    monkeypatch.setenv("CLOUDRUN_DATABASE_URL", url)
    return url


@pytest.fixture
def new_database(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Callable[[], str]:
    """Return a maker of further new databases of the same kind as `database_url` (one per hypothesis example)."""
    if database_url.startswith("sqlite"):
        return lambda: f"sqlite:///{tmp_path_factory.mktemp('state') / 'state.db'}"
    return request.getfixturevalue("postgres_server").database
