"""Staged weights on AWS: one S3 bucket per account and region, created and tagged by cloudrun (cloudrun.staging).

Calls go through the adapter's AwsSession (translated, retried by cloudrun.retry). Facts, each from the S3 docs:
- names: 3-63 lowercase letters, digits, '-' and '.', globally unique across all accounts; a name another account
  holds is `BucketAlreadyExists` (409), one this account holds `BucketAlreadyOwnedByYou`; HeadBucket answers 403 for a
  bucket that exists but is not yours (docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html,
  API_CreateBucket.html, API_HeadBucket.html);
- us-east-1 takes no LocationConstraint; every other region needs one (API_CreateBucket.html);
- encryption at rest: every new bucket has SSE-S3 by default since 2023-01-05 (userguide/default-encryption-faq.html);
  cloudrun sets it explicitly too, and blocks public access (API_PutPublicAccessBlock.html);
- multipart upload: parts of 5 MiB to 5 GiB but the last, at most 10,000 parts (userguide/qfacts.html).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import Any, BinaryIO

from cloudrun import staging
from cloudrun.errors import AuthError, CloudrunError, Conflict, NotFound
from cloudrun.models import MANAGED_TAG
from cloudrun.staging import Progress, StoredObject, WeightsStore

MIN_PART_BYTES = 8 * 1024 * 1024  # above S3's 5 MiB floor
MAX_PARTS = 10_000
Call = Callable[..., Any]  # AwsSession.call(service, region, operation, params)


class S3WeightsStore(WeightsStore):
    """cloudrun's weights bucket in one account and region."""

    provider = "aws"

    def __init__(self, call: Call, region: str, account: str) -> None:
        self._call, self.region = call, region
        self.bucket = staging.bucket_name("aws", account, region)

    def uri(self, prefix: str = "") -> str:
        return f"s3://{self.bucket}/{prefix}"

    def is_managed(self) -> bool | None:
        try:
            self._s3("head_bucket", Bucket=self.bucket)
        except NotFound:
            return None
        except AuthError as exc:  # 403: the name is someone else's
            raise _taken(self.bucket) from exc
        try:
            tags = self._s3("get_bucket_tagging", Bucket=self.bucket).get("TagSet", [])
        except NotFound:  # NoSuchTagSet
            return False
        return any(t.get("Key") == MANAGED_TAG and t.get("Value") == "true" for t in tags)

    def ensure_bucket(self) -> bool:
        managed = self.is_managed()
        if managed is False:
            raise Conflict(f"S3 bucket {self.bucket} exists in your account without cloudrun's tag: cloudrun will "
                           "not write into it", hint=f"tag it {MANAGED_TAG}=true if it is cloudrun's, or remove it")
        if managed:
            return False
        params: dict[str, Any] = {"Bucket": self.bucket}
        if self.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self._call("s3", self.region, "create_bucket", params, idempotent=False)
        except Conflict as exc:
            if "BucketAlreadyOwnedByYou" not in exc.message:
                raise _taken(self.bucket) from exc
        tags = [{"Key": MANAGED_TAG, "Value": "true"}, {"Key": "cloudrun-purpose", "Value": "model-weights"}]
        self._s3("put_bucket_tagging", Bucket=self.bucket, Tagging={"TagSet": tags})
        rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
        self._s3("put_bucket_encryption", Bucket=self.bucket, ServerSideEncryptionConfiguration={"Rules": [rule]})
        block = dict.fromkeys(("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"),
                              True)  # fmt: skip
        self._s3("put_public_access_block", Bucket=self.bucket, PublicAccessBlockConfiguration=block)
        return True

    def list_objects(self, prefix: str) -> dict[str, StoredObject]:
        found: dict[str, StoredObject] = {}
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        while True:
            page = self._s3("list_objects_v2", **params)
            for item in page.get("Contents", []):
                found[item["Key"]] = self._stored(item["Key"], int(item["Size"]))
            if not page.get("IsTruncated"):
                return found
            params["ContinuationToken"] = page["NextContinuationToken"]

    def upload(self, key: str, body: BinaryIO, size: int, metadata: dict[str, str], progress: Progress) -> None:
        part_bytes = max(MIN_PART_BYTES, math.ceil(size / MAX_PARTS / 2**20) * 2**20)
        if size <= part_bytes:
            data = b"".join(staging.chunks(body, size, part_bytes)) if size else body.read()
            self._call("s3", self.region, "put_object", {"Bucket": self.bucket, "Key": key, "Body": data,
                                                         "Metadata": metadata, "ServerSideEncryption": "AES256"})
            progress(len(data))
            return
        started = self._s3("create_multipart_upload", Bucket=self.bucket, Key=key, Metadata=metadata,
                           ServerSideEncryption="AES256")  # fmt: skip
        upload_id, parts = started["UploadId"], []
        try:
            for number, part in enumerate(staging.chunks(body, size, part_bytes), start=1):
                answer = self._s3("upload_part", Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number,
                                  Body=part)  # fmt: skip
                parts.append({"PartNumber": number, "ETag": answer["ETag"]})
                progress(len(part))
            self._s3("complete_multipart_upload", Bucket=self.bucket, Key=key, UploadId=upload_id,
                     MultipartUpload={"Parts": parts})  # fmt: skip
        except BaseException:
            with contextlib.suppress(CloudrunError):  # nothing half-written stays (and bills) under the key
                self._s3("abort_multipart_upload", Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise

    def read(self, key: str) -> bytes | None:
        try:
            return self._s3("get_object", Bucket=self.bucket, Key=key)["Body"].read()
        except NotFound:
            return None

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # DeleteObjects takes up to 1,000 keys (API_DeleteObjects.html)
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            self._s3("delete_objects", Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})

    def _stored(self, key: str, size: int) -> StoredObject:
        head = self._s3("head_object", Bucket=self.bucket, Key=key).get("Metadata") or {}
        return StoredObject(size, head.get(staging.SHA256_KEY), head.get(staging.GIT_SHA1_KEY))

    def _s3(self, operation: str, **params: Any) -> Any:
        return self._call("s3", self.region, operation, params)


def _taken(bucket: str) -> Conflict:
    return Conflict(f"the S3 bucket name {bucket} is taken by another AWS account (bucket names are global)",
                    hint="cloudrun derives it from your account and region; if you own that bucket elsewhere, "
                    "remove it, else open an issue")  # fmt: skip
