"""Names a user picks from a list (providers, regions, services) and account ids (--role, --project, Azure's ids).

An unknown provider is refused everywhere: a typo in `down --all --provider` must not remove nothing and exit 0.
A region must be one the provider has (cloudrun/regions.py), in ASCII: a full-width look-alike is not sent on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from cloudrun.errors import InvalidInput
from cloudrun.plain import PROVIDERS, SERVICES
from cloudrun.regions import REGIONS

_CHOOSE = f"choose from {', '.join(PROVIDERS)}"

# Account ids, as each cloud documents them; checked before any call, so a malformed one is a usage error (exit 2),
# not an SDK's multi-line refusal or a traceback.
_ACCOUNT_IDS: dict[str, tuple[str, re.Pattern[str], str]] = {
    # SageMaker's own pattern for ExecutionRoleArn (CreateModel API reference): 20-2048 characters.
    "role_arn": ("--role", re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/?[a-zA-Z0-9_+=,.@/-]{1,2000}"),
                 "an IAM role ARN, e.g. arn:aws:iam::123456789012:role/SageMakerRole"),
    # Google project ids: 6-30 lowercase letters, digits and hyphens, starting with a letter (a legacy one may carry
    # a domain: example.com:my-project), or a project number.
    "project": ("--project", re.compile(r"(?:[a-z0-9.-]{1,63}:)?[a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]{1,20}"),
                "a Google Cloud project id like my-project-123, or its number"),
    "subscription_id": ("--subscription", re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}"),
                        "an Azure subscription id (a GUID)"),
    # Azure: 1-90 letters, digits, underscores, hyphens, periods and parentheses, not ending in a period.
    "resource_group": ("--resource-group", re.compile(r"[\w.()-]{0,89}[\w()-]"), "an Azure resource group name"),
    # Azure ML workspaces: 3-33 letters, digits, hyphens and underscores, starting with a letter or digit.
    "workspace": ("--workspace", re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}"), "an Azure ML workspace name"),
}  # fmt: skip


def provider(value: object, what: str = "--provider") -> str:
    """Return a provider name (aws, gcp or azure; any case, surrounding spaces ignored); refuse anything else."""
    name = value.strip().lower() if isinstance(value, str) else None
    if name not in PROVIDERS:
        raise InvalidInput(f"unknown provider {value!r}: {_CHOOSE}", hint=f"check {what}")
    return name


def providers(values: Sequence[str] | None, what: str = "--provider") -> tuple[str, ...] | None:
    """Return the providers named, each once in the order given; None when none was given. An empty name is refused."""
    if values is None or (not isinstance(values, str) and len(values) == 0):
        return None
    if isinstance(values, str):
        values = [values]
    return tuple(dict.fromkeys(provider(value, what) for value in values))


def region(provider_name: str, value: object, what: str = "region") -> str:
    """Return a region the provider has; refuse a made-up name or a look-alike."""
    known = REGIONS.get(provider_name, frozenset())
    if not isinstance(value, str) or value not in known:
        hint = "use the provider's own region name, e.g. us-east-1, us-central1 or eastus"
        raise InvalidInput(f"{what} {value!r} is not one of {provider_name}'s regions", hint=hint)
    return value  # type: ignore[return-value]  # it is one of the known strings


def services(provider_name: str, values: object, what: str) -> tuple[str, ...]:
    """Return the services a credit pays for: the provider's own (sagemaker, vertex or azureml), at least one."""
    own = SERVICES[provider_name]
    if isinstance(values, str) or not isinstance(values, (list, tuple)) or not values:
        raise InvalidInput(f'{what}: expected a list of services, e.g. ["{own}"]')
    for value in values:
        if value != own:
            raise InvalidInput(f"{what}: {value!r} is not a service cloudrun deploys to on {provider_name}",
                               hint=f"a {provider_name} credit pays for {own} here")  # fmt: skip
    return tuple(dict.fromkeys(values))


def account_options(options: Mapping[str, Mapping[str, Any]] | None) -> None:
    """Raise InvalidInput unless every account id in a provider loader's options has its cloud's form."""
    for per_provider in (options or {}).values():
        for key, value in per_provider.items():
            if key in _ACCOUNT_IDS and value is not None:
                flag, pattern, kind = _ACCOUNT_IDS[key]
                if not isinstance(value, str) or not pattern.fullmatch(value):
                    raise InvalidInput(f"{flag} {value!r} is not {kind}")
