"""Start and stop all of the sandbox's emulated clouds together, and point a process at them.

AWS: moto's server (S3 too, for staged weights); Google: the Vertex AI REST fake; Azure: the ARM fake over https;
and a fake Hugging Face Hub that `cloudrun stage` reads (HF_ENDPOINT). Every endpoint is on 127.0.0.1 and every
credential is fake, so nothing here can act on a real account.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from cloudrun.errors import InvalidInput
from cloudrun.loopback import require_loopback
from cloudrun.sandbox import aws

EMULATED = ("aws", "gcp", "azure")


@dataclass
class Clouds:
    """The running fakes; `info` is what `cloudrun sandbox start` records for later `--sandbox` commands."""

    info: dict[str, Any]
    handles: list[Any] = field(default_factory=list)

    def stop(self) -> None:
        for handle in reversed(self.handles):
            handle.stop()


def start(startup_s: float = 0.0) -> Clouds:
    """Start every emulated cloud on loopback; new endpoints take `startup_s` seconds to come up."""
    from cloudrun.sandbox import azure_fake, hub_fake, vertex_fake

    clouds = Clouds(info={})
    try:
        amazon = aws.start(startup_s=startup_s)
        clouds.handles.append(amazon)
        google = vertex_fake.start(deploy_delay_s=startup_s)
        clouds.handles.append(google)
        azure = azure_fake.start(provision_delay_s=startup_s)
        clouds.handles.append(azure)
        hub = hub_fake.start()
        clouds.handles.append(hub)
    except BaseException:
        clouds.stop()
        raise
    clouds.info = {"aws": amazon.url, "gcp": google.url, "azure": azure.url, "azure_ca": azure.ca_file, "hub": hub.url}
    return clouds


def require_local(info: dict[str, Any]) -> None:
    """Raise InvalidInput unless every cloud endpoint in `info` is on this machine (checked before any connection)."""
    if not isinstance(info.get("aws"), str):
        hint = "restart it: `cloudrun sandbox stop`, then `cloudrun sandbox start`"
        raise InvalidInput("the sandbox's server.json names no AWS endpoint", hint=hint)
    for key in ("aws", "gcp", "azure", "hub"):
        if key in info:
            require_loopback(str(info[key]))


def activate(info: dict[str, Any]) -> None:
    """Point this process's AWS, Google and Azure calls at the fakes in `info` (loopback only)."""
    from cloudrun.sandbox import azure_fake, vertex_fake

    require_local(info)
    aws.activate(info["aws"])
    if "gcp" in info:
        vertex_fake.activate(info["gcp"])
    if "azure" in info:
        for name in [n for n in os.environ if n.startswith(("AZURE_CLIENT", "AZURE_TENANT", "AZURE_FEDERATED"))]:
            del os.environ[name]
        os.environ.update(azure_fake.environment(SimpleNamespace(url=info["azure"], ca_file=info["azure_ca"])))
    if "hub" in info:
        os.environ["HF_ENDPOINT"] = info["hub"]  # huggingface_hub's own variable: `stage` reads the sandbox's Hub
    os.environ["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = "http://127.0.0.1:1"  # never the metadata service (IMDS)
    os.environ["CLOUDRUN_SANDBOX"] = "1"
