"""AWS for the sandbox: moto's server on loopback, taught the GPU hosting types, with canned replies.

Everything here talks to 127.0.0.1 only. The credentials are fake, so even a request that escaped to a
real AWS endpoint would be refused there.
"""

from __future__ import annotations

import json
import os
import urllib.request
from dataclasses import dataclass
from typing import Any

from cloudrun.loopback import require_loopback
from cloudrun.sandbox.moto_lifecycle import emulate_startup
from cloudrun.sandbox.moto_metrics import emulate_invocation_metrics
from cloudrun.sandbox.moto_quotas import emulate_sagemaker_quotas
from cloudrun.sandbox.moto_tags import answer_missing_resources
from cloudrun.sandbox.moto_types import widen_instance_types

SANDBOX_REGIONS = ("us-east-1", "us-west-2", "eu-west-1")
_CLEARED = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ROLE_ARN",
            "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")  # fmt: skip


@dataclass
class AwsSandbox:
    """A running moto server; `stop()` ends it."""

    url: str
    server: Any

    def stop(self) -> None:
        self.server.stop()


def start(port: int = 0, *, startup_s: float = 0.0) -> AwsSandbox:
    """Return a moto server on 127.0.0.1 that accepts cloudrun's GPU instance types and SageMaker quotas,
    and counts every call to an endpoint as SageMaker does (CloudWatch Invocations per variant).

    New endpoints stay Creating for `startup_s` seconds, as real ones do for many minutes.
    """
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log lines in the user's terminal
    widen_instance_types()
    emulate_sagemaker_quotas()
    emulate_startup(startup_s)
    emulate_invocation_metrics()
    answer_missing_resources()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound_port = server.get_host_and_port()
    return AwsSandbox(url=f"http://{host}:{bound_port}", server=server)


def environment(url: str) -> dict[str, str]:
    """Return the environment that points boto3 at the sandbox, and only at it."""
    require_loopback(url)
    return {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "sandbox",
        "AWS_SECRET_ACCESS_KEY": "sandbox",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "CLOUDRUN_SAGEMAKER_ROLE_ARN": "arn:aws:iam::123456789012:role/cloudrun-sandbox",
    }


def activate(url: str) -> None:
    """Point this process's AWS calls at the sandbox (and clear every other AWS credential source)."""
    for name in list(os.environ):
        if name in _CLEARED or name.startswith("AWS_ENDPOINT_URL_"):
            del os.environ[name]
    os.environ.update(environment(url))


def seed_chat_replies(url: str, model_id: str, regions: tuple[str, ...] = SANDBOX_REGIONS, count: int = 20) -> None:
    """Queue OpenAI-style chat completions as the sandbox endpoints' replies (moto returns them in order)."""
    require_loopback(url)
    reply = {
        "object": "chat.completion",
        "model": model_id,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "Hello from the cloudrun sandbox (moto)."}}],
        "usage": {"prompt_tokens": 8, "completion_tokens": 9, "total_tokens": 17},
    }  # fmt: skip
    for region in regions:
        results = [{"Body": json.dumps(reply), "ContentType": "application/json"} for _ in range(count)]
        body = json.dumps({"region": region, "results": results}).encode()
        request = urllib.request.Request(
            f"{url}/moto-api/static/sagemaker/endpoint-results", data=body, method="POST",
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - loopback checked above
            pass
