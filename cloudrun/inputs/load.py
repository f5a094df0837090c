"""The traffic a plan must serve (`plan --load "60 req/min, 500 in, 300 out"`) and its targets, checked.

A load is three comma-separated parts in any order: a request rate (`N req/s`, `N req/min` or `N req/h`), the prompt
tokens per request (`N in`) and the output tokens per request (`N out`). Every refusal is InvalidInput (exit 2, one
line) saying what was expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from cloudrun.errors import InvalidInput
from cloudrun.inputs import bounds
from cloudrun.inputs.values import as_decimal, decimal

_FORMAT = '"RATE req/min, IN in, OUT out", e.g. "60 req/min, 500 in, 300 out"'
_PER_MINUTE = {"s": Decimal(60), "sec": Decimal(60), "min": Decimal(1), "m": Decimal(1), "h": Decimal(1) / 60}
_RATE = re.compile(r"([0-9][0-9_.]*)\s*(?:req|requests?)\s*/\s*(s|sec|min|m|h)", re.IGNORECASE)
_TOKENS = re.compile(r"([0-9][0-9_]*)\s*(in|out)", re.IGNORECASE)
# A request of more tokens than the longest context of any model (bounds.CONFIG_COUNTS) cannot be served anywhere.
_MAX_TOKENS = bounds.CONFIG_COUNTS["max_position_embeddings"][1]
# A million requests a minute is far above what one deployment of one model serves (a large API's whole fleet).
MAX_REQUESTS_PER_MINUTE = Decimal(1_000_000)


@dataclass(frozen=True)
class Load:
    """Requests per minute, each with `input_tokens` of prompt and `output_tokens` generated."""

    requests_per_minute: Decimal
    input_tokens: int
    output_tokens: int

    @property
    def output_tokens_per_s(self) -> Decimal:
        """Return the output tokens per second the load asks for."""
        return self.requests_per_minute * self.output_tokens / 60

    def describe(self) -> str:
        return f"{float(self.requests_per_minute):,.6g} req/min, {self.input_tokens} in, {self.output_tokens} out"


def load(text: object, flag: str = "--load") -> Load:
    """Return the load described by `text`, e.g. "60 req/min, 500 in, 300 out"; raise InvalidInput otherwise."""
    if not isinstance(text, str) or not text.strip() or len(text) > 200 or not text.isascii():
        raise InvalidInput(f"{flag} {_quoted(text)} is not a load", hint=f"write it as {_FORMAT}")
    rate: Decimal | None = None
    tokens: dict[str, int] = {}
    for part in (p.strip() for p in text.split(",")):
        matched_rate, matched_tokens = _RATE.fullmatch(part), _TOKENS.fullmatch(part)
        if matched_rate and rate is None:
            number = as_decimal(matched_rate.group(1).replace("_", ""))
            if number is None:
                raise InvalidInput(f"{flag}: {part!r} is not a number of requests", hint=f"write it as {_FORMAT}")
            rate = number * _PER_MINUTE[matched_rate.group(2).lower()]
        elif matched_tokens and matched_tokens.group(2).lower() not in tokens:
            tokens[matched_tokens.group(2).lower()] = int(matched_tokens.group(1).replace("_", ""))
        else:
            why = "is given twice" if matched_rate or matched_tokens else "is not a rate, 'N in' or 'N out'"
            raise InvalidInput(f"{flag}: {part!r} {why}", hint=f"write it as {_FORMAT}")
    missing = [name for name, ok in (("a rate", rate is not None), ("'N in'", "in" in tokens),
                                     ("'N out'", "out" in tokens)) if not ok]  # fmt: skip
    if missing:
        raise InvalidInput(f"{flag} {_quoted(text)} lacks {' and '.join(missing)}", hint=f"write it as {_FORMAT}")
    assert rate is not None
    rate = decimal(rate, f"{flag} rate", "requests a minute", high=MAX_REQUESTS_PER_MINUTE)
    for name in ("in", "out"):
        if not 1 <= tokens[name] <= _MAX_TOKENS:
            raise InvalidInput(f"{flag}: {tokens[name]} {name} must be from 1 to {_MAX_TOKENS:,} tokens")
    return Load(requests_per_minute=rate, input_tokens=tokens["in"], output_tokens=tokens["out"])


def _quoted(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
