"""Shared fixtures. Sockets are disabled for every test (pytest-socket, see pyproject addopts):
no test can reach a real cloud or the Hugging Face Hub by accident."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Each test gets its own CLOUDRUN_HOME and never looks anything up online."""
    monkeypatch.setenv("CLOUDRUN_HOME", str(tmp_path / "cloudrun-home"))
    monkeypatch.setenv("CLOUDRUN_OFFLINE", "1")
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
