"""Deployment names that are legal on every cloud at once.

SageMaker: up to 63 letters, digits and '-'; Google labels: lowercase letters, digits, '-' and '_', up to
63; Azure ML endpoints: 3-32 letters, digits and '-', starting with a letter. The intersection: a
lowercase letter, then lowercase letters, digits or single '-', 3 to 32 characters, not ending in '-'.
"""

from __future__ import annotations

import re
import secrets

from cloudrun.errors import InvalidInput

NAME_RE = re.compile(r"^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){2,31}$")
MAX_LENGTH = 32


def validate(name: str) -> str:
    """Return the name if every cloud accepts it, else raise InvalidInput saying what is allowed."""
    if not NAME_RE.match(name):
        raise InvalidInput(
            f"deployment name {name!r} is not allowed",
            hint="use 3-32 lowercase letters, digits and single hyphens, starting with a letter, e.g. r1-qwen-7b",
        )
    return name


def derive(model_id: str, *, suffix: str | None = None) -> str:
    """Return a legal deployment name from a model id: its short name, shortened, plus a random suffix."""
    short = model_id.rsplit("/", 1)[-1].lower()
    short = short.replace("deepseek-r1-distill-", "r1-").replace("deepseek-", "ds-")
    slug = re.sub(r"[^a-z0-9]+", "-", short).strip("-")
    suffix = suffix or secrets.token_hex(2)
    slug = slug[: MAX_LENGTH - len(suffix) - 1].rstrip("-")
    if not slug or not slug[0].isalpha():
        slug = ("m-" + slug)[: MAX_LENGTH - len(suffix) - 1].rstrip("-")
    return validate(f"{slug}-{suffix}")
