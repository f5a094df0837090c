"""Your defaults, in one file: `config.toml` in the user config folder (`cloudrun config path` says where).

Precedence, for every setting: the command-line flag, then the environment variable, then this file, then
cloudrun's default. Account settings (project, subscription, resource group, workspace, AWS role and profile)
become the environment variables the adapters and the clouds' SDKs already read, when those are unset, so every
command (status and down too) uses them. The others become the flags' defaults (click's `default_map`).
The file holds no secret: credentials stay in each cloud's own credential chain.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cloudrun import inputs, paths
from cloudrun.errors import InvalidInput
from cloudrun.plain import PROVIDERS

FILE_ENV = "CLOUDRUN_CONFIG"
MAX_BYTES = 64 * 1024  # a defaults file is a few lines; anything larger is not one


@dataclass(frozen=True)
class Setting:
    """One key of config.toml: what it sets, where, and how it is checked."""

    help: str
    env: str  # the environment variable that overrides it (and that it fills for account settings)
    commands: tuple[str, ...] = ()  # commands whose flag defaults it sets; () = exported to the environment
    many: bool = False  # a list of values (plan's --provider and --exclude take several)


SETTINGS: dict[str, Setting] = {
    "provider": Setting("aws, gcp or azure: deploy there (plan: only there)", "CLOUDRUN_PROVIDER", ("plan", "deploy")),
    "exclude": Setting("providers to leave out, comma-separated", "CLOUDRUN_EXCLUDE", ("plan", "deploy"), many=True),
    "region": Setting("region to plan and deploy in", "CLOUDRUN_REGION", ("plan", "deploy")),
    "hours": Setting("hours you expect an endpoint to run, for costs", "CLOUDRUN_HOURS", ("plan", "deploy")),
    "idle_timeout": Setting("deploy --idle-timeout, e.g. 30m", "CLOUDRUN_IDLE_TIMEOUT", ("deploy",)),
    "ttl": Setting("deploy --ttl, e.g. 8h", "CLOUDRUN_TTL", ("deploy",)),
    "max_spend": Setting("deploy --max-spend, USD", "CLOUDRUN_MAX_SPEND", ("deploy",)),
    "aws_profile": Setting("AWS named profile", "AWS_PROFILE"),
    "aws_role": Setting("SageMaker execution role ARN", "CLOUDRUN_SAGEMAKER_ROLE_ARN"),
    "gcp_project": Setting("Google Cloud project id", "GOOGLE_CLOUD_PROJECT"),
    "azure_subscription": Setting("Azure subscription id", "AZURE_SUBSCRIPTION_ID"),
    "azure_resource_group": Setting("Azure resource group", "AZURE_RESOURCE_GROUP"),
    "azure_workspace": Setting("Azure ML workspace name", "AZUREML_WORKSPACE_NAME"),
    "database_url": Setting("state database: sqlite:////path/state.db or postgresql://user@host/db (a team's)",
                            "CLOUDRUN_DATABASE_URL"),
}


def path() -> Path:
    """Return the config file: $CLOUDRUN_CONFIG, else config.toml in $CLOUDRUN_HOME when set, else the user config
    folder (e.g. ~/.config/cloudrun/config.toml)."""
    if os.environ.get(FILE_ENV):
        return Path(os.environ[FILE_ENV]).expanduser()
    if os.environ.get("CLOUDRUN_HOME"):  # not paths.home(): reading the config must not create the folder
        return Path(os.environ["CLOUDRUN_HOME"]).expanduser() / "config.toml"
    import platformdirs

    return Path(platformdirs.user_config_dir("cloudrun")) / "config.toml"


def load() -> dict[str, Any]:
    """Return the settings in the file (none when it does not exist); raise InvalidInput if it cannot be used."""
    file = path()
    try:
        if file.stat().st_size > MAX_BYTES:
            raise InvalidInput(f"{file} is larger than {MAX_BYTES // 1024} KiB: not a cloudrun config file")
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"config file {file} cannot be read: {exc}", hint="fix or remove it") from exc
    if sys.version_info >= (3, 11):  # the TOML parser, imported only when there is a file: every command reads it
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"config file {file} cannot be read: {exc}", hint="fix or remove it") from exc
    return {key: check(key, value, where=str(file)) for key, value in document.items()}


def check(key: str, value: Any, *, where: str = "") -> Any:
    """Return a setting's value as cloudrun uses it; raise InvalidInput naming the key for anything else."""
    if key not in SETTINGS:
        raise InvalidInput(f"unknown setting {key!r}{' in ' + where if where else ''}",
                           hint=f"settings: {', '.join(SETTINGS)}")  # fmt: skip
    setting = SETTINGS[key]
    if setting.many:
        items = value if isinstance(value, list) else str(value).split(",")
        value = [str(item).strip() for item in items if str(item).strip()]
    elif not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise InvalidInput(f"setting {key} must be text or a number, not {type(value).__name__}")
    if key in ("provider", "exclude"):
        for name in value if setting.many else [value]:
            if name not in PROVIDERS:
                raise InvalidInput(f"setting {key}: unknown provider {name!r}: choose from {', '.join(PROVIDERS)}")
    if key == "hours":
        inputs.hours(value)
    elif key in ("idle_timeout", "ttl"):
        inputs.duration(str(value))
    elif key == "max_spend":
        inputs.usd(value, "max_spend")
    elif key == "database_url":
        inputs.urls.database_url(value, "setting database_url")
        if inputs.urls.has_password(str(value)):  # the file holds no secret (module docstring)
            raise InvalidInput("setting database_url holds a password, and config.toml holds no secret",
                               hint="put the password in ~/.pgpass or PGPASSWORD (libpq reads both), or set the"
                                    " whole URL in CLOUDRUN_DATABASE_URL")  # fmt: skip
    return value


def save(settings: dict[str, Any]) -> Path:
    """Write the settings (checked) to the file, private to the user; return its path."""
    file = path()
    checked = {key: check(key, value) for key, value in settings.items()}
    paths.private_dir(file.parent)
    lines = ["# cloudrun defaults: `cloudrun config list` explains each; flags and environment variables win"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in sorted(checked.items())]  # JSON strings are TOML ones
    file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    file.chmod(0o600)
    return file


def apply(settings: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Export the account settings into the environment where unset; return the flags' defaults per command."""
    defaults: dict[str, dict[str, Any]] = {}
    for key, value in settings.items():
        setting = SETTINGS[key]
        if os.environ.get(setting.env):  # the environment wins: decided here, not left to click's precedence rules
            continue
        if not setting.commands:
            os.environ[setting.env] = str(value)
            continue
        for command in setting.commands:
            flag_value = value
            if command == "plan" and key in ("provider", "exclude", "region"):
                flag_value = value if isinstance(value, list) else [value]  # plan takes several
            elif command == "deploy" and key in ("provider", "region"):
                flag_value = value[0] if isinstance(value, list) else value
            defaults.setdefault(command, {})[key] = flag_value
    return defaults
