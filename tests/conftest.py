"""Shared fixtures. Sockets are disabled for every test (pytest-socket, see pyproject addopts):
no test can reach a real cloud or the Hugging Face Hub by accident."""

from __future__ import annotations

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
