"""`--scenario realtime|batch|private`: presets of targets for `plan` and `compare`, each with what it recommends.

The three rows of the usual deployment-decision table: a chat-like service (real time), offline jobs (batch) and
privacy-sensitive data (private). A preset only sets defaults: a flag given explicitly wins. cloudrun says where
the data goes; it does not judge whether a place is lawful for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from cloudrun.errors import InvalidInput


@dataclass(frozen=True)
class Scenario:
    name: str
    latency_p50_ms: Decimal | None  # time to first token, p50
    tokens_per_s: Decimal | None  # output tokens per second, at least
    spot: bool
    explanation: tuple[str, ...]


SCENARIOS = {
    "realtime": Scenario(
        name="realtime",
        latency_p50_ms=Decimal(500),
        tokens_per_s=Decimal(200),
        spot=False,
        explanation=(
            "p50 time to first token under 500 ms and at least 200 output tokens/s, on managed "
            "on-demand endpoints (spot VMs can be reclaimed mid-conversation)",
            "a quantized model (--precision fp8, or an AWQ/GPTQ --quantized-model) reads half or a quarter of the "
            "bytes per token: faster tokens and fewer GPUs, at a small cost in quality to check on your prompts",
        ),
    ),
    "batch": Scenario(
        name="batch",
        latency_p50_ms=None,
        tokens_per_s=None,
        spot=True,
        explanation=(
            "throughput per dollar matters, latency does not: spot options are added (Vertex AI's spot VMs; the "
            "other services run endpoints on demand only); with --load the options are ranked per token",
            "spot capacity can be reclaimed at any time: make the job resumable (checkpoint which requests are done) "
            "and let it retry",
        ),
    ),
    "private": Scenario(
        name="private",
        latency_p50_ms=None,
        tokens_per_s=None,
        spot=False,
        explanation=(
            "keep the weights and the prompts where you control them: your own hardware "
            "(`cloudrun compare --local`), or endpoints in your own cloud account and project, in a --region "
            "you choose, reached from your own network (VPC) rather than a third party's API",
            "a managed endpoint still runs on the provider's machines in that region; whether that is allowed for "
            "your data is a legal question cloudrun does not answer: ask whoever owns your compliance",
        ),
    ),
}


def scenario(name: str | None) -> Scenario | None:
    """Return the named preset, None for none; refuse an unknown name."""
    if name is None:
        return None
    found = SCENARIOS.get(name.strip().lower())
    if found is None:
        raise InvalidInput(f"--scenario {name!r} is not one of {', '.join(SCENARIOS)}")
    return found
