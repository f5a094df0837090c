"""A fake of the Azure Blob service REST subset `cloudrun stage` sends, served by the ARM fake under /blob/ACCOUNT/.

Containers (create, properties, list blobs with prefix and metadata), blobs (put, get, delete) and block uploads (Put
Block, Put Block List). Strict where Blob storage is (learn.microsoft.com/rest/api/storageservices/
naming-and-referencing-containers--blobs--and-metadata, create-container, put-block, put-block-list): container
names of 3-63 lowercase letters, digits and single hyphens, starting with a letter or digit; a taken name 409
ContainerAlreadyExists; metadata names that are C# identifiers; block ids of one length, base64; a block list that
names a block never put is 400 InvalidBlockList; x-ms-version and a bearer token on every request. Errors carry the
x-ms-error-code header, as Blob storage sends them.
"""

from __future__ import annotations

import base64
import re
import threading
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

_CONTAINER = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$")
_METADATA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
Reply = tuple[int, dict[str, str], Any]


@dataclass
class BlobState:
    """The workspace storage account's containers: name -> {"metadata", "blobs": {name: {data, metadata}}, "blocks"}."""

    account: str
    containers: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def blobs_under(self, container: str, prefix: str) -> dict[str, dict[str, Any]]:
        """Return the blobs of `container` whose names start with `prefix` (none if there is no such container)."""
        blobs = (self.containers.get(container) or {}).get("blobs") or {}
        return {name: blob for name, blob in blobs.items() if name.startswith(prefix)}


def _error(status: int, code: str, message: str) -> Reply:
    body = f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return status, {"x-ms-error-code": code, "Content-Type": "application/xml"}, body.encode()


def handle(state: BlobState, method: str, url: str, headers: dict[str, str], body: bytes) -> Reply:
    """Answer one Blob service request on /blob/ACCOUNT/CONTAINER[/BLOB]."""
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    segments = unquote(parts.path).removeprefix("/blob/").split("/", 2)
    with state.lock:
        state.seen.append((method, parts.path))
        if not headers.get("x-ms-version"):
            return _error(400, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not "
                          "specified: x-ms-version")  # fmt: skip
        if not headers.get("authorization", "").startswith("Bearer "):
            return _error(401, "NoAuthenticationInformation", "Server failed to authenticate the request.")
        if segments[0] != state.account or len(segments) < 2:
            return _error(404, "ResourceNotFound", "The specified resource does not exist.")
        metadata = {k.removeprefix("x-ms-meta-"): v for k, v in headers.items() if k.startswith("x-ms-meta-")}
        if any(not _METADATA_NAME.match(name) for name in metadata):
            return _error(400, "InvalidMetadata", "The metadata specified is invalid. It has characters that are not "
                          "permitted.")  # fmt: skip
        container = segments[1]
        if len(segments) == 2:
            return _container(state, method, container, query, metadata)
        return _blob(state, method, container, segments[2], query, metadata, body)


def _container(state: BlobState, method: str, name: str, query: dict[str, str], metadata: dict[str, str]) -> Reply:
    if query.get("restype") != "container":
        return _error(400, "InvalidQueryParameterValue", "restype=container is required")
    if method == "PUT":
        if not _CONTAINER.match(name):
            return _error(400, "InvalidResourceName", "The specified resource name contains invalid characters.")
        if name in state.containers:
            return _error(409, "ContainerAlreadyExists", "The specified container already exists.")
        state.containers[name] = {"metadata": metadata, "blobs": {}, "blocks": {}}
        return 201, {}, None
    found = state.containers.get(name)
    if found is None:
        return _error(404, "ContainerNotFound", "The specified container does not exist.")
    if method == "GET" and query.get("comp") == "list":
        return 200, {"Content-Type": "application/xml"}, _listing(found, query.get("prefix", ""))
    if method in ("GET", "HEAD"):
        return 200, {f"x-ms-meta-{k}": v for k, v in found["metadata"].items()}, None
    return _error(405, "UnsupportedHttpVerb", method)


def _blob(state: BlobState, method: str, container: str, name: str, query: dict[str, str], metadata: dict[str, str],
          body: bytes) -> Reply:  # fmt: skip
    found = state.containers.get(container)
    if found is None:
        return _error(404, "ContainerNotFound", "The specified container does not exist.")
    blobs, blocks = found["blobs"], found["blocks"].setdefault(name, {})
    if method == "PUT" and query.get("comp") == "block":
        block_id = query.get("blockid", "")
        lengths = {len(existing) for existing in blocks}
        if not _base64(block_id) or (lengths and len(block_id) not in lengths):
            return _error(400, "InvalidQueryParameterValue", "blockid must be base64, every id of one length")
        blocks[block_id] = body
        return 201, {}, None
    if method == "PUT" and query.get("comp") == "blocklist":
        ids = [element.text or "" for element in ElementTree.fromstring(body)]
        if any(block_id not in blocks for block_id in ids):
            return _error(400, "InvalidBlockList", "The specified block list is invalid.")
        blobs[name] = {"data": b"".join(blocks[block_id] for block_id in ids), "metadata": metadata}
        found["blocks"].pop(name, None)
        return 201, {}, None
    if method == "PUT":
        blobs[name] = {"data": body, "metadata": metadata}
        return 201, {}, None
    if name not in blobs:
        return _error(404, "BlobNotFound", "The specified blob does not exist.")
    if method == "DELETE":
        del blobs[name]
        return 202, {}, None
    if method == "GET":
        return 200, {"Content-Type": "application/octet-stream"}, blobs[name]["data"]
    return _error(405, "UnsupportedHttpVerb", method)


def _listing(container: dict[str, Any], prefix: str) -> bytes:
    root = ElementTree.Element("EnumerationResults")
    listed = ElementTree.SubElement(root, "Blobs")
    for name, blob in sorted(container["blobs"].items()):
        if name.startswith(prefix):
            item = ElementTree.SubElement(listed, "Blob")
            ElementTree.SubElement(item, "Name").text = name
            ElementTree.SubElement(ElementTree.SubElement(item, "Properties"), "Content-Length").text = str(
                len(blob["data"]))
            meta = ElementTree.SubElement(item, "Metadata")
            for key, value in blob["metadata"].items():
                ElementTree.SubElement(meta, key).text = value
    ElementTree.SubElement(root, "NextMarker")
    return ElementTree.tostring(root, xml_declaration=True, encoding="utf-8")


def _base64(text: str) -> bool:
    try:
        return bool(text) and base64.b64encode(base64.b64decode(text, validate=True)).decode() == text
    except ValueError:
        return False
