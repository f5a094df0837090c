"""boto3 clients for the SageMaker adapter: one Session (the default credential chain), SDK retries off.

botocore's `retries={"max_attempts": 1}` counts retries, not attempts, and would still retry once;
`total_max_attempts=1` sends each request once, so `cloudrun.retry` is the only retry layer.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from cloudrun.provider import ClientFactory

NO_SDK_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})


def default_client_factory(profile: str | None = None) -> ClientFactory:
    """Return a factory of boto3 clients from one Session (the credential chain), with the SDK's retries off."""
    session: boto3.Session | None = None

    def make_client(service: str, region: str) -> Any:
        nonlocal session
        session = session or boto3.Session(profile_name=profile)
        return session.client(service, region_name=region, config=NO_SDK_RETRIES)

    return make_client
