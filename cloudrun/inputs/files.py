"""Files a user names (--config, --catalog, --credits): read only up to a size cap, decoded strictly, and JSON parsed
only after its nesting is measured, so no file can exhaust the machine or end in a traceback.
"""

from __future__ import annotations

import json
import math
import re
import stat
from pathlib import Path
from typing import Any

from cloudrun.errors import InvalidInput
from cloudrun.inputs import bounds

# The characters that decide JSON nesting: a backslash pair (skipped, so an escaped quote does not end a string),
# a quote (entering or leaving a string) and the brackets. Matched left to right once: linear in the file's size.
_JSON_STRUCTURE = re.compile(r'\\.|["\[\]{}]', re.DOTALL)


class _Refused(ValueError):
    """A JSON value the parse hooks refuse (NaN, Infinity, a number too long); parse_json adds the file."""


def read_bounded(path: Path | str, what: str, limit: int, hint: str) -> bytes:
    """Return the bytes of the file at `path`; refuse a device, a folder, or more than `limit` bytes (read no more)."""
    path = Path(path)
    try:
        kind = path.stat().st_mode
        if not (stat.S_ISREG(kind) or stat.S_ISFIFO(kind)):  # a pipe is fine (<(...)); /dev/zero never ends
            raise InvalidInput(f"{what} {path} is not a regular file", hint=hint)
        with path.open("rb") as stream:
            data = stream.read(limit + 1)
    except FileNotFoundError:
        raise InvalidInput(f"cannot read {what} {path}: it does not exist", hint=hint) from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {what} {path}: {exc.strerror or exc}", hint=hint) from None
    if len(data) > limit:
        raise InvalidInput(f"{what} {path} is larger than {limit:,} bytes: too large to be one", hint=hint)
    return data


def decode(data: bytes, source: str, hint: str) -> str:
    """Return the bytes as UTF-8 text (a leading byte-order mark dropped); refuse anything else."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem = f"byte {exc.start} is {data[exc.start]:#04x}"
        raise InvalidInput(f"{source} is not UTF-8 text ({problem})", hint=hint) from None


def parse_json(data: bytes, source: str, hint: str) -> Any:
    """Return the JSON document in `data`: nested at most MAX_JSON_DEPTH deep, with finite numbers of sane length."""
    text = decode(data, source, hint)
    depth = json_depth(text)
    if depth > bounds.MAX_JSON_DEPTH:
        raise InvalidInput(f"{source} nests deeper than {bounds.MAX_JSON_DEPTH} levels: not a file cloudrun reads",
                           hint=hint)  # fmt: skip
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_short_int)
    except _Refused as exc:
        raise InvalidInput(f"{source}: {exc}", hint=hint) from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{source} is not valid JSON: {exc.msg} at line {exc.lineno}", hint=hint) from None
    except RecursionError:  # cannot happen below MAX_JSON_DEPTH; kept so no input can end in a traceback
        raise InvalidInput(f"{source} nests too deep", hint=hint) from None


def json_depth(text: str) -> int:
    """Return how deep the brackets of a JSON text nest, outside its strings (stopping once past the cap)."""
    depth = deepest = 0
    in_string = False
    for match in _JSON_STRUCTURE.finditer(text):
        token = match.group()
        if token == '"':
            in_string = not in_string
        elif in_string or token[0] == "\\":
            continue
        elif token in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > bounds.MAX_JSON_DEPTH:
                break
        else:
            depth -= 1
    return deepest


def _refuse_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a number cloudrun accepts (JSON has no NaN or Infinity)")


def _finite_float(text: str) -> float:
    if len(text) > 2 * bounds.MAX_NUMBER_DIGITS:
        raise _Refused(f"the number {text[:20]}... has too many digits")
    number = float(text)
    if not math.isfinite(number):
        raise _Refused(f"the number {text} is too large to be a real value")
    return number


def _short_int(text: str) -> int:
    if len(text.lstrip("-")) > bounds.MAX_NUMBER_DIGITS:
        raise _Refused(f"the number {text[:20]}... has more than {bounds.MAX_NUMBER_DIGITS} digits")
    return int(text)
