"""What the three adapters share: the Hugging Face token and its redaction, which models need remote code, the
hints every cloud gives alike, and how a failed endpoint becomes the error the deployer fails over on.

Pure: no SDK and no network. Each adapter's template module (aws_template, gcp_template, azure_template) renders
its own requests from its own templates/*.json with these helpers; each cloud's error table lives in its
<cloud>_client.py and only its markers decide what a failure reason stands for.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

from cloudrun import staging
from cloudrun.errors import CapacityUnavailable, CloudrunError, InvalidInput, QuotaExceeded
from cloudrun.models import DeploySpec, Endpoint

HF_TOKEN_VARIABLES = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")
REDACTED_TOKEN = "<copied from $HF_TOKEN at create time>"
CONFLICT_HINT = "choose another deployment name, or remove the old one with `cloudrun down NAME`"


def quota_hint(request: str, provider: str) -> str:
    """Return the hint for a quota refusal: how to ask for more, or how to plan without this cloud."""
    return f"{request}, or plan without it: `cloudrun plan MODEL --exclude {provider}`"


def hf_token(environ: Mapping[str, str] | None = None) -> str | None:
    """Return the Hugging Face token from the environment (for gated models), or None if unset."""
    environ = os.environ if environ is None else environ
    return next((environ[name] for name in HF_TOKEN_VARIABLES if environ.get(name)), None)


def needs_remote_code(spec: DeploySpec, patterns: Sequence[str]) -> bool:
    """Return whether the model (or the checkpoint served for it) is one whose code ships in its repository."""
    names = (spec.model_id, spec.served_model)
    return any(re.search(pattern, name, re.IGNORECASE) for pattern in patterns for name in names)


def failure_error(
    endpoint: Endpoint,
    kind: type[CloudrunError],
    hints: Mapping[type[CloudrunError], str],
    *,
    service: str,
    unit: str,
    otherwise: str,
    detail: str = "",
) -> CloudrunError:
    """Return the error a failed endpoint stands for: quota or capacity (which the deployer fails over on) by
    `kind`, from the cloud's own markers; otherwise a plain error with `detail` (e.g. a log tail) and the hint
    `otherwise` that says where the rest of the story is."""
    reason = endpoint.failure_reason or f"{service} gave no reason"
    where = f"endpoint {endpoint.ref.name} ({endpoint.instance_type or f'{unit} type unknown'}"
    message = f"{where} in {endpoint.ref.region}) failed: {reason}"
    if kind in (QuotaExceeded, CapacityUnavailable):
        return kind(message, hint=hints.get(kind))
    return CloudrunError(message + detail, hint=otherwise)


def require_staged(store: Any, spec: DeploySpec) -> None:
    """Raise InvalidInput unless the staged weights the spec names (under `store.uri()`, the store's bucket or
    container) have their manifest, which `stage` writes last: a half copy is never loaded."""
    prefix = spec.weights_uri.removeprefix(store.uri())
    if prefix == spec.weights_uri or store.read(prefix + staging.MANIFEST) is None:
        raise InvalidInput(f"the staged weights at {spec.weights_uri} are not complete (no manifest)",
                           hint=f"stage them again: `cloudrun stage {spec.served_model} --provider {spec.provider} "
                           f"--region {spec.region}`")  # fmt: skip
