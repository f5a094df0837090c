"""What the three request templates share: the Hugging Face token, its redaction, which models need remote code.

Pure: no SDK and no network. Each adapter's template module (aws_template, gcp_template, azure_template) renders
its own requests from its own templates/*.json, with these helpers.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

from cloudrun.models import DeploySpec

HF_TOKEN_VARIABLES = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")
REDACTED_TOKEN = "<copied from $HF_TOKEN at create time>"


def hf_token(environ: Mapping[str, str] | None = None) -> str | None:
    """Return the Hugging Face token from the environment (for gated models), or None if unset."""
    environ = os.environ if environ is None else environ
    return next((environ[name] for name in HF_TOKEN_VARIABLES if environ.get(name)), None)


def needs_remote_code(spec: DeploySpec, patterns: Sequence[str]) -> bool:
    """Return whether the model (or the checkpoint served for it) is one whose code ships in its repository."""
    names = (spec.model_id, spec.served_model)
    return any(re.search(pattern, name, re.IGNORECASE) for pattern in patterns for name in names)
