"""Warm-up: requests sent to a new endpoint after it is in service and before `deploy` reports it ready, so the
first user does not pay for vLLM's first-batch compilation and cache fill. `deploy --warmup N` sends N short
prompts; `deploy --warmup FILE` sends each line of a JSONL file ({"prompt": "..."} or {"messages": [...]}).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cloudrun.errors import InvalidInput
from cloudrun.inputs import bounds, files

MAX_WARMUP_REQUESTS = 1000  # a warm-up, not a load test: more is a benchmark's job
DEFAULT_PROMPT = "Say hello in one sentence."
WARMUP_MAX_TOKENS = 64


@dataclass(frozen=True)
class WarmupReport:
    """What the warm-up sent and got: requests, seconds, tokens in and out."""

    requests: int
    seconds: float
    prompt_tokens: int
    completion_tokens: int


def payloads(value: str) -> list[dict[str, Any]]:
    """Return the chat payloads `--warmup VALUE` asks for: N default prompts, or one per line of a JSONL file."""
    text = value.strip()
    if text.isdigit():
        count = int(text)
        if not 1 <= count <= MAX_WARMUP_REQUESTS:
            raise InvalidInput(f"--warmup {count}: give 1 to {MAX_WARMUP_REQUESTS} requests")
        return [_payload({"prompt": DEFAULT_PROMPT}, "--warmup")] * count
    path = Path(text)
    raw = files.read_bounded(path, "warm-up file", bounds.MAX_CONFIG_BYTES, "give N or a JSONL file of prompts")
    found = []
    for number, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), start=1):
        if line.strip():
            try:
                found.append(_payload(json.loads(line), f"{path}:{number}"))
            except ValueError as exc:
                raise InvalidInput(f"{path}:{number} is not JSON: {exc}", hint="one JSON object per line") from None
    if not 1 <= len(found) <= MAX_WARMUP_REQUESTS:
        raise InvalidInput(f"{path} has {len(found)} prompts: give 1 to {MAX_WARMUP_REQUESTS}")
    return found


def run(invoke: Callable[[dict[str, Any]], dict[str, Any]], requests: list[dict[str, Any]],
        clock: Callable[[], float] = time.monotonic) -> WarmupReport:  # fmt: skip
    """Send each payload through `invoke` in turn; return the time taken and the tokens the endpoint reported."""
    started, prompt, completion = clock(), 0, 0
    for payload in requests:
        usage = invoke(payload).get("usage") or {}
        prompt += int(usage.get("prompt_tokens") or 0)
        completion += int(usage.get("completion_tokens") or 0)
    return WarmupReport(len(requests), clock() - started, prompt, completion)


def _payload(line: Any, where: str) -> dict[str, Any]:
    if isinstance(line, dict) and isinstance(line.get("prompt"), str):
        messages = [{"role": "user", "content": line["prompt"]}]
    elif isinstance(line, dict) and isinstance(line.get("messages"), list) and line["messages"]:
        messages = line["messages"]
    else:
        raise InvalidInput(f"{where}: expected {{\"prompt\": \"...\"}} or {{\"messages\": [...]}}")
    max_tokens = line.get("max_tokens", WARMUP_MAX_TOKENS)
    if not isinstance(max_tokens, int) or not 1 <= max_tokens <= bounds.MAX_REPLY_TOKENS:
        raise InvalidInput(f"{where}: max_tokens must be 1 to {bounds.MAX_REPLY_TOKENS}")
    return {"messages": messages, "max_tokens": max_tokens}
