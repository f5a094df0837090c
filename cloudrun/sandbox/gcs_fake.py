"""A fake of the Cloud Storage JSON API subset `cloudrun stage` sends, served on the Vertex fake's port (stdlib only).

Buckets (insert, get), objects (list with prefix, get media, delete) and resumable uploads (start, chunked PUTs).
Strict where Cloud Storage is (cloud.google.com/storage/docs/buckets#naming, json_api/v1/buckets/insert,
performing-resumable-uploads): bucket names of 3-63 lowercase letters, digits, '-', '_', '.', starting and ending
with a letter or digit, never "goog..." nor containing "google"; a name held anywhere (`taken`) is 409; labels by
Google's label rules; a non-final chunk not a multiple of 256 KiB, or not starting where the last ended, is refused;
an object exists only once its last chunk arrived. Errors are Google-shaped.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cloudrun.sandbox.vertex_fake_state import ApiError

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$")
_LABEL = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_RANGE = re.compile(r"^bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)$")
QUANTUM = 256 * 1024
Reply = tuple[int, dict[str, str], Any]


@dataclass
class GcsState:
    """Buckets by name (each with its labels and objects), open upload sessions, and names other projects hold."""

    buckets: dict[str, dict[str, Any]] = field(default_factory=dict)
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)
    taken: set[str] = field(default_factory=set)
    seen: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def has_prefix(self, uri: str) -> dict[str, Any] | None:
        """Return the object list under a gs://bucket/prefix/ URI if it holds any object, else None."""
        bucket, _, prefix = uri.removeprefix("gs://").partition("/")
        objects = (self.buckets.get(bucket) or {}).get("objects") or {}
        found = {k: v for k, v in objects.items() if k.startswith(prefix)}
        return found or None


def handle(state: GcsState, method: str, url: str, headers: dict[str, str], body: bytes, base: str) -> Reply:
    """Answer one Cloud Storage request; ApiError replies come back Google-shaped."""
    parts = urlsplit(url)
    path, query = unquote(parts.path), {k: v[-1] for k, v in parse_qs(parts.query).items()}
    with state.lock:
        state.seen.append((method, path))
        try:
            return _route(state, method, path, query, headers, body, base)
        except ApiError as exc:
            return exc.http_status, {}, exc.body()


def _route(state: GcsState, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes,
           base: str) -> Reply:  # fmt: skip
    if path == "/storage/v1/b" and method == "POST":
        return _insert_bucket(state, query, json.loads(body or b"{}"))
    found = re.fullmatch(r"/storage/v1/b/([^/]+)(?:/o(?:/(.+))?)?", path)
    if found and method == "GET" and found[2] is None and not path.endswith("/o"):
        return 200, {}, _bucket(state, found[1])["record"]
    if found and path.endswith("/o") and method == "GET":
        prefix = query.get("prefix", "")
        items = [{"name": k, "bucket": found[1], "size": str(len(v["data"])), "metadata": v["metadata"]}
                 for k, v in sorted(_bucket(state, found[1])["objects"].items()) if k.startswith(prefix)]  # fmt: skip
        return 200, {}, {"kind": "storage#objects", **({"items": items} if items else {})}
    if found and found[2] is not None:
        objects = _bucket(state, found[1])["objects"]
        if found[2] not in objects:
            raise ApiError("NOT_FOUND", f"No such object: {found[1]}/{found[2]}")
        if method == "DELETE":
            del objects[found[2]]
            return 204, {}, None
        if method == "GET" and query.get("alt") == "media":
            return 200, {}, bytes(objects[found[2]]["data"])
    upload = re.fullmatch(r"/upload/storage/v1/b/([^/]+)/o", path)
    if upload and method == "POST" and query.get("uploadType") == "resumable":
        _bucket(state, upload[1])
        meta = json.loads(body or b"{}")
        session = f"u{len(state.uploads) + 1}"
        state.uploads[session] = {"bucket": upload[1], "name": query.get("name") or meta.get("name"),
                                  "metadata": meta.get("metadata") or {}, "data": bytearray()}  # fmt: skip
        location = f"{base}/upload/storage/v1/b/{upload[1]}/o?uploadType=resumable&upload_id={session}"
        return 200, {"Location": location}, {}
    if upload and method == "PUT" and query.get("upload_id") in state.uploads:
        return _chunk(state, query["upload_id"], headers.get("content-range", ""), body)
    raise ApiError("NOT_FOUND", f"Not Found: {method} {path}")


def _insert_bucket(state: GcsState, query: dict[str, str], body: dict[str, Any]) -> Reply:
    name = str(body.get("name", ""))
    if not query.get("project"):
        raise ApiError("INVALID_ARGUMENT", "Required parameter: project")
    if not _NAME.match(name) or name.startswith("goog") or "google" in name or ".." in name:
        raise ApiError("INVALID_ARGUMENT", f"Invalid bucket name: '{name}'")
    for key, value in (body.get("labels") or {}).items():
        if not _LABEL.match(key) or not re.fullmatch(r"[a-z0-9_-]{0,63}", str(value)):
            raise ApiError("INVALID_ARGUMENT", f"Invalid argument: label {key}={value!r}")
    if name in state.taken:
        raise ApiError("ALREADY_EXISTS", "The requested bucket name is not available. The bucket namespace is shared "
                       "by all users of the system. Please select a different name and try again.")  # fmt: skip
    if name in state.buckets:
        raise ApiError("ALREADY_EXISTS", "Your previous request to create the named bucket succeeded and you already "
                       "own it.")  # fmt: skip
    record = {"kind": "storage#bucket", "name": name, "location": str(body.get("location", "US")).upper(),
              "storageClass": body.get("storageClass", "STANDARD"), "labels": body.get("labels") or {}}  # fmt: skip
    state.buckets[name] = {"record": record, "objects": {}}
    return 200, {}, record


def _bucket(state: GcsState, name: str) -> dict[str, Any]:
    if name in state.taken:
        raise ApiError("PERMISSION_DENIED", f"caller does not have storage.buckets.get access to the bucket {name}.")
    if name not in state.buckets:
        raise ApiError("NOT_FOUND", "The specified bucket does not exist.")
    return state.buckets[name]


def _chunk(state: GcsState, session: str, content_range: str, body: bytes) -> Reply:
    upload = state.uploads[session]
    found = _RANGE.match(content_range.strip())
    if not found:
        raise ApiError("INVALID_ARGUMENT", f"Invalid Content-Range: {content_range!r}")
    total = None if found[3] == "*" else int(found[3])
    if found[1] is not None:
        start, end = int(found[1]), int(found[2])
        if start != len(upload["data"]) or end - start + 1 != len(body):
            raise ApiError("INVALID_ARGUMENT", f"Content-Range {content_range} does not continue at "
                           f"{len(upload['data'])} with {len(body)} bytes")  # fmt: skip
        final = total is not None and end + 1 == total
        if not final and len(body) % QUANTUM:
            raise ApiError("INVALID_ARGUMENT", "Chunk size must be a multiple of 256 KiB except for the last chunk")
        upload["data"] += body
    if total is None or len(upload["data"]) < total:
        return 308, {"Range": f"bytes=0-{len(upload['data']) - 1}"} if upload["data"] else {}, None
    bucket = _bucket(state, upload["bucket"])
    bucket["objects"][upload["name"]] = {"data": bytes(upload["data"]), "metadata": upload["metadata"]}
    del state.uploads[session]
    return 200, {}, {"name": upload["name"], "bucket": upload["bucket"], "size": str(total)}
