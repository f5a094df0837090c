"""Staged weights on Azure: one Blob container in the workspace's own storage account, created and marked by cloudrun.

Over the Blob service REST API with `requests` and a bearer token for https://storage.azure.com/.default (the
adapter's credential; no azure-storage-blob dependency). Errors become ArmRestError (status and x-ms-error-code) and
go through the adapter's session (translated, retried by cloudrun.retry). In the sandbox the ARM fake answers them
under /blob/ACCOUNT/ on its own port. Facts (learn.microsoft.com/rest/api/storageservices/...):
- containers: 3-63 lowercase letters, digits and '-', starting with a letter or digit, no '--'; a name already used
  in the account is 409 ContainerAlreadyExists (naming-and-referencing-containers--blobs--and-metadata,
  create-container);
- metadata names follow C# identifier rules (no '-'), so the mark is `cloudrun_managed: true` (same page);
- encryption at rest is always on for every storage account (azure/storage/common/storage-service-encryption);
- block uploads: Put Block (block ids of equal length, base64) then Put Block List, which makes the blob exist with
  the metadata sent on it (put-block, put-block-list); requests with a bearer token need x-ms-version 2017-11-09+.
"""

from __future__ import annotations

import base64
import contextlib
import urllib.parse
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from typing import Any, BinaryIO

from cloudrun import staging
from cloudrun.errors import AuthError, Conflict, NotFound
from cloudrun.staging import Progress, StoredObject, WeightsStore

from .azure_client import ArmRestError

API_VERSION = "2021-08-06"
# Azure Storage's OAuth resource (learn.microsoft.com/azure/storage/blobs/authorize-access-azure-active-directory)
TOKEN_SCOPE = "https://storage.azure.com/.default"
MANAGED_KEY = "cloudrun_managed"
BLOCK_BYTES = 8 * 1024 * 1024
Run = Callable[..., Any]  # AzureSession.call(fn): translated, retried


class BlobWeightsStore(WeightsStore):
    """cloudrun's weights container in the workspace's storage account."""

    provider = "azure"

    def __init__(self, run: Run, token: Callable[[], str], account_url: str, workspace_id: str, region: str) -> None:
        self._run, self._token, self._base = run, token, account_url.rstrip("/")
        self.region = region
        self.bucket = staging.bucket_name("azure", workspace_id, region)

    def uri(self, prefix: str = "") -> str:
        return f"{self._base}/{self.bucket}/{prefix}"

    def is_managed(self) -> bool | None:
        try:
            answer = self._request("GET", "", params={"restype": "container"})
        except NotFound:
            return None
        except AuthError as exc:
            raise Conflict(f"the Blob container {self.bucket} cannot be read with your credentials",
                           hint="grant yourself Storage Blob Data Contributor on the workspace's storage "
                           "account") from exc
        return answer.headers.get(f"x-ms-meta-{MANAGED_KEY}") == "true"

    def ensure_bucket(self) -> bool:
        managed = self.is_managed()
        if managed is False:
            raise Conflict(f"Blob container {self.bucket} exists without cloudrun's mark: cloudrun will not write "
                           "into it", hint=f"set its metadata {MANAGED_KEY}=true if it is cloudrun's, or remove it")
        if managed:
            return False
        headers = {f"x-ms-meta-{MANAGED_KEY}": "true", "x-ms-meta-cloudrun_purpose": "model_weights"}
        self._request("PUT", "", params={"restype": "container"}, headers=headers)
        return True

    def list_objects(self, prefix: str) -> dict[str, StoredObject]:
        found: dict[str, StoredObject] = {}
        params = {"restype": "container", "comp": "list", "prefix": prefix, "include": "metadata"}
        while True:
            root = ElementTree.fromstring(self._request("GET", "", params=params).content)
            for blob in root.iter("Blob"):
                size = int(blob.findtext("Properties/Content-Length") or 0)
                metadata = blob.find("Metadata")  # an Element's truth value is its having children (deprecated)
                meta = {child.tag: child.text or "" for child in (() if metadata is None else metadata)}
                found[blob.findtext("Name") or ""] = StoredObject(size, meta.get(staging.SHA256_KEY),
                                                                  meta.get(staging.GIT_SHA1_KEY))  # fmt: skip
            marker = root.findtext("NextMarker")
            if not marker:
                return found
            params = {**params, "marker": marker}

    def upload(self, key: str, body: BinaryIO, size: int, metadata: dict[str, str], progress: Progress) -> None:
        meta = {f"x-ms-meta-{name}": value for name, value in metadata.items()}
        if size <= BLOCK_BYTES:
            data = b"".join(staging.chunks(body, size, BLOCK_BYTES))
            self._request("PUT", key, data=data, headers={"x-ms-blob-type": "BlockBlob", **meta})
            progress(len(data))
            return
        ids = []
        for number, block in enumerate(staging.chunks(body, size, BLOCK_BYTES)):
            block_id = base64.b64encode(f"{number:08d}".encode()).decode()  # every id the same length
            self._request("PUT", key, params={"comp": "block", "blockid": block_id}, data=block)
            ids.append(block_id)
            progress(len(block))
        listing = "".join(f"<Latest>{block_id}</Latest>" for block_id in ids)
        xml = f'<?xml version="1.0" encoding="utf-8"?><BlockList>{listing}</BlockList>'.encode()
        self._request("PUT", key, params={"comp": "blocklist"}, data=xml, headers=meta)

    def read(self, key: str) -> bytes | None:
        try:
            return self._request("GET", key).content
        except NotFound:
            return None

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            with contextlib.suppress(NotFound):
                self._request("DELETE", key)

    def _request(self, method: str, key: str, *, params: dict[str, str] | None = None, data: bytes | None = None,
                 headers: dict[str, str] | None = None) -> Any:  # fmt: skip
        import requests

        url = f"{self._base}/{self.bucket}" + (f"/{urllib.parse.quote(key)}" if key else "")

        def once() -> Any:
            sent = {"x-ms-version": API_VERSION, "Authorization": f"Bearer {self._token()}", **(headers or {})}
            response = requests.request(method, url, params=params, data=data, headers=sent, timeout=300)
            if response.status_code >= 400:
                code = response.headers.get("x-ms-error-code", "")
                raise ArmRestError(response.status_code, code, response.text[:300] or code)
            return response

        return self._run(once)
