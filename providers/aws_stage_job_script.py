"""Runs inside the SageMaker Processing job `cloudrun stage --in-cloud` starts: copies a model's files from the
Hugging Face Hub into cloudrun's S3 bucket in the same region, then writes the manifest, last.

Standalone on purpose (the Python standard library and boto3, which the SageMaker scikit-learn image ships:
aws/sagemaker-scikit-learn-container requirements.txt); it imports nothing of cloudrun. It does what
cloudrun.staging does through the user's machine, with the same object layout and metadata, so either can resume
the other's copy: each file streamed in parts (S3 multipart, 8 MiB parts, larger past 80 GB for S3's 10,000-part
limit), its sha256 (LFS files) or git blob id checked on the way (a mismatch aborts the upload), objects already
there with the same size and hash skipped, `cloudrun-manifest.json` written only when every file is there.

Its argument is the plan cloudrun wrote next to it (the files with sizes and hashes, the bucket, the manifest's
fields); HF_TOKEN, when set in the job's environment, authorizes the Hub for a gated model.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import urllib.parse
import urllib.request
from datetime import datetime, timezone

MANIFEST = "cloudrun-manifest.json"
SHA256_KEY, GIT_SHA1_KEY = "sha256", "gitsha1"
MIN_PART_BYTES, MAX_PARTS = 8 * 1024 * 1024, 10_000
TIMEOUT_S = 60.0


def main(argv: list[str] | None = None, s3: object = None) -> int:
    """Copy every file of the plan (argv[0]) that is not already staged, then write the manifest; return 0."""
    args = sys.argv[1:] if argv is None else argv
    with open(args[0], encoding="utf-8") as handle:
        plan = json.load(handle)
    if s3 is None:
        import boto3

        s3 = boto3.client("s3", region_name=plan["region"])
    bucket, prefix = plan["bucket"], plan["prefix"]
    entries, sent = [], 0
    for item in plan["files"]:
        key = prefix + item["path"]
        stored = _head(s3, bucket, key)
        if stored is not None and _matches(stored, item):
            entries.append({"path": item["path"], "size": item["size"], "sha256": stored.get(SHA256_KEY)})
            continue
        sha256 = _copy(s3, plan, item, key)
        entries.append({"path": item["path"], "size": item["size"], "sha256": sha256})
        sent += item["size"]
        print(f"copied {item['path']} ({item['size']} bytes)", flush=True)
    manifest = dict(plan["manifest"])
    manifest.update(staged_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    total_bytes=sum(int(e["size"]) for e in entries), files=entries)  # fmt: skip
    s3.put_object(Bucket=bucket, Key=prefix + MANIFEST, Body=json.dumps(manifest, indent=1).encode(),
                  ServerSideEncryption="AES256")  # fmt: skip
    print(f"staged {len(entries)} files, sent {sent} bytes; manifest at s3://{bucket}/{prefix}{MANIFEST}", flush=True)
    return 0


def _head(s3: object, bucket: str, key: str) -> dict | None:
    try:
        head = s3.head_object(Bucket=bucket, Key=key)  # type: ignore[attr-defined]
    except s3.exceptions.ClientError as exc:  # type: ignore[attr-defined]  # only "not there" means copy it
        if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return {"size": int(head["ContentLength"]), **(head.get("Metadata") or {})}


def _matches(stored: dict, item: dict) -> bool:
    if stored["size"] != item["size"]:
        return False
    if item.get("sha256"):
        return stored.get(SHA256_KEY) == item["sha256"]
    return bool(item.get("git_sha1")) and stored.get(GIT_SHA1_KEY) == item["git_sha1"]


def _open(plan: dict, path: str):  # noqa: ANN202 - an HTTP response, read in parts
    quoted = urllib.parse.quote(plan["revision"], safe="")
    url = f"{plan['hub']}/{plan['manifest']['model_id']}/resolve/{quoted}/{urllib.parse.quote(path)}"
    token = os.environ.get("HF_TOKEN")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    return urllib.request.urlopen(request, timeout=TIMEOUT_S)  # noqa: S310 - the plan's Hub (https, or loopback)


def _copy(s3: object, plan: dict, item: dict, key: str) -> str:
    """Stream one Hub file into `key` (one PUT up to a part's size, else a multipart upload); return its sha256. A
    size or hash that differs from the Hub's leaves nothing under the key (the multipart upload is aborted)."""
    size, bucket = item["size"], plan["bucket"]
    part_bytes = max(MIN_PART_BYTES, math.ceil(size / MAX_PARTS / 2**20) * 2**20)
    metadata = {SHA256_KEY: item["sha256"]} if item.get("sha256") else {}
    if item.get("git_sha1"):
        metadata[GIT_SHA1_KEY] = item["git_sha1"]
    hashes = (hashlib.sha256(), hashlib.sha1(f"blob {size}\0".encode(), usedforsecurity=False))
    common = {"Bucket": bucket, "Key": key}
    with _open(plan, item["path"]) as response:
        parts = _parts(response, size, part_bytes, hashes)
        if size <= part_bytes:
            body = b"".join(parts)
            _check(item, hashes)
            s3.put_object(**common, Body=body, Metadata=metadata, ServerSideEncryption="AES256")  # type: ignore[attr-defined]
            return hashes[0].hexdigest()
        upload = s3.create_multipart_upload(**common, Metadata=metadata,  # type: ignore[attr-defined]
                                            ServerSideEncryption="AES256")["UploadId"]  # fmt: skip
        try:
            done = []
            for number, part in enumerate(parts, start=1):
                answer = s3.upload_part(**common, UploadId=upload, PartNumber=number, Body=part)  # type: ignore[attr-defined]
                done.append({"PartNumber": number, "ETag": answer["ETag"]})
            _check(item, hashes)
            s3.complete_multipart_upload(**common, UploadId=upload, MultipartUpload={"Parts": done})  # type: ignore[attr-defined]
        except BaseException:
            s3.abort_multipart_upload(**common, UploadId=upload)  # type: ignore[attr-defined]
            raise
    return hashes[0].hexdigest()


def _check(item: dict, hashes: tuple) -> None:
    if item.get("sha256") and hashes[0].hexdigest() != item["sha256"]:
        raise ValueError(f"{item['path']}: sha256 differs from the Hub's: not staged")
    if not item.get("sha256") and item.get("git_sha1") and hashes[1].hexdigest() != item["git_sha1"]:
        raise ValueError(f"{item['path']}: git blob id differs from the Hub's: not staged")


def _parts(body: object, size: int, part_bytes: int, hashes: tuple):  # noqa: ANN202 - a generator of bytes
    """Yield `size` bytes of `body` in parts of `part_bytes` (the last shorter), hashing them; raise if the stream
    ends early or runs long."""
    left = size
    while left > 0:
        want, chunks = min(part_bytes, left), []
        while want > 0:
            chunk = body.read(want)  # type: ignore[attr-defined]
            if not chunk:
                raise ValueError(f"the Hub stream ended {left - sum(map(len, chunks))} bytes early")
            chunks.append(chunk)
            want -= len(chunk)
        part = b"".join(chunks)
        for digest in hashes:
            digest.update(part)
        left -= len(part)
        yield part
    if body.read(1):  # type: ignore[attr-defined]
        raise ValueError(f"the Hub sent more than its listed {size} bytes")


if __name__ == "__main__":
    sys.exit(main())
