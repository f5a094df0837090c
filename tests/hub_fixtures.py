"""The Hugging Face Hub fake for the staging tests: one way to serve it, however large its shards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cloudrun.sandbox import hub_fake


def serve_hub(monkeypatch: pytest.MonkeyPatch, shard_bytes: int) -> Iterator[hub_fake.HubSandbox]:
    """Yield the Hub fake on loopback with HF_ENDPOINT pointed at it, online, and no token from the host."""
    server = hub_fake.start(shard_bytes=shard_bytes)
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.delenv("CLOUDRUN_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    try:
        yield server
    finally:
        server.stop()
