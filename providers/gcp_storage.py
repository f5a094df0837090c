"""Staged weights on Google Cloud: one Cloud Storage bucket per project and region, created and labelled by cloudrun.

Over the Cloud Storage JSON API with google-auth's AuthorizedSession and the adapter's credentials (as gcp_metrics
reads Monitoring): no extra library. Errors become google.api_core exceptions and go through the adapter's session
(translated and retried by cloudrun.retry). The sandbox's Vertex fake answers these paths on its own port. Facts:
- names: 3-63 lowercase letters, digits, '-', '_' and '.', start and end with a letter or digit, never "goog..." or
  containing "google", globally unique: a taken name is 409 (cloud.google.com/storage/docs/buckets#naming,
  storage/docs/json_api/v1/buckets/insert);
- encryption at rest is always on ("Cloud Storage always encrypts your data on the server side",
  storage/docs/encryption/default-keys); cloudrun also enforces public access prevention and uniform access;
- resumable uploads: chunks in multiples of 256 KiB but the last, 308 until the final one
  (storage/docs/performing-resumable-uploads).
"""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import Callable
from typing import Any, BinaryIO

from google.api_core import exceptions as google_errors

from cloudrun import staging
from cloudrun.errors import AuthError, Conflict, NotFound
from cloudrun.models import MANAGED_TAG
from cloudrun.staging import Progress, StoredObject, WeightsStore

STORAGE_URL = "https://storage.googleapis.com"
CHUNK_BYTES = 32 * 256 * 1024  # 8 MiB, a multiple of 256 KiB
Run = Callable[..., Any]  # CloudSession.run(fn, *args): translated, retried


class GcsWeightsStore(WeightsStore):
    """cloudrun's weights bucket in one project and region."""

    provider = "gcp"

    def __init__(self, run: Run, session: Any, base_url: str, project: str, region: str) -> None:
        self._run, self._session, self._base = run, session, base_url.rstrip("/")
        self.project, self.region = project, region
        self.bucket = staging.bucket_name("gcp", project, region)

    def uri(self, prefix: str = "") -> str:
        return f"gs://{self.bucket}/{prefix}"

    def is_managed(self) -> bool | None:
        try:
            record = self._json("GET", f"/storage/v1/b/{self.bucket}")
        except NotFound:
            return None
        except AuthError as exc:
            raise _taken(self.bucket) from exc
        return (record.get("labels") or {}).get(MANAGED_TAG) == "true"

    def ensure_bucket(self) -> bool:
        managed = self.is_managed()
        if managed is False:
            raise Conflict(f"Cloud Storage bucket {self.bucket} exists without cloudrun's label: cloudrun will not "
                           "write into it", hint=f"label it {MANAGED_TAG}=true if it is cloudrun's, or remove it")
        if managed:
            return False
        body = {"name": self.bucket, "location": self.region, "storageClass": "STANDARD",
                "labels": {MANAGED_TAG: "true", "cloudrun-purpose": "model-weights"},
                "iamConfiguration": {"uniformBucketLevelAccess": {"enabled": True},
                                     "publicAccessPrevention": "enforced"}}  # fmt: skip
        try:
            self._json("POST", "/storage/v1/b", params={"project": self.project}, body=body)
        except Conflict as exc:
            raise _taken(self.bucket) from exc
        return True

    def list_objects(self, prefix: str) -> dict[str, StoredObject]:
        found: dict[str, StoredObject] = {}
        params = {"prefix": prefix}
        while True:
            page = self._json("GET", f"/storage/v1/b/{self.bucket}/o", params=params)
            for item in page.get("items", []):
                metadata = item.get("metadata") or {}
                found[item["name"]] = StoredObject(int(item["size"]), metadata.get(staging.SHA256_KEY),
                                                   metadata.get(staging.GIT_SHA1_KEY))  # fmt: skip
            if not page.get("nextPageToken"):
                return found
            params = {**params, "pageToken": page["nextPageToken"]}

    def upload(self, key: str, body: BinaryIO, size: int, metadata: dict[str, str], progress: Progress) -> None:
        started = self._request("POST", f"/upload/storage/v1/b/{self.bucket}/o",
                                params={"uploadType": "resumable", "name": key},
                                json={"name": key, "metadata": metadata})  # fmt: skip
        session_url = started.headers["Location"]
        if size == 0:
            self._put(session_url, b"", {"Content-Range": "bytes */0"})
            return
        offset = 0
        for chunk in staging.chunks(body, size, CHUNK_BYTES):
            end = offset + len(chunk) - 1
            self._put(session_url, chunk, {"Content-Range": f"bytes {offset}-{end}/{size}"})
            offset += len(chunk)
            progress(len(chunk))

    def read(self, key: str) -> bytes | None:
        try:
            path = f"/storage/v1/b/{self.bucket}/o/{_quoted(key)}"
            return self._request("GET", path, params={"alt": "media"}).content
        except NotFound:
            return None

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            with contextlib.suppress(NotFound):  # already gone
                self._request("DELETE", f"/storage/v1/b/{self.bucket}/o/{_quoted(key)}")

    # --- the wire ---------------------------------------------------------------------------------------------

    def _json(self, method: str, path: str, *, params: dict[str, str] | None = None, body: Any = None) -> Any:
        return self._request(method, path, params=params, json=body).json()

    def _request(self, method: str, path: str, **options: Any) -> Any:
        def once() -> Any:
            response = self._session.request(method, self._base + path, timeout=120, **options)
            if response.status_code >= 400:
                raise google_errors.from_http_response(response)
            return response

        return self._run(once)

    def _put(self, url: str, data: bytes, headers: dict[str, str]) -> None:
        def once() -> Any:
            response = self._session.request("PUT", url, data=data, headers=headers, timeout=300)
            if response.status_code >= 400:
                raise google_errors.from_http_response(response)
            return response

        self._run(once)  # 308 (more, please) and 200/201 (done) are both fine


def _quoted(key: str) -> str:
    return urllib.parse.quote(key, safe="")


def _taken(bucket: str) -> Conflict:
    return Conflict(f"the Cloud Storage bucket name {bucket} is taken by another project (bucket names are global)",
                    hint="cloudrun derives it from your project and region; if it is yours elsewhere, remove it")
