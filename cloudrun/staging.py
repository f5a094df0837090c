"""Model weights staged in the cloud's own storage, in the region that serves them: copied once from the Hub,
loaded from there by every deploy, restart and scale-out.

The copy streams: each file is read from the Hub in parts and each part sent on as it arrives (S3 multipart, GCS
resumable, Blob blocks), so no model ever sits on the local disk and memory holds one part. It resumes: an object
whose size and hash already match the Hub's is skipped. The manifest (every file with its size and sha256, and the
Hub commit) is written LAST, so a copy cut short has no manifest, and a deploy never loads a half-staged model.

The cloud side is a `WeightsStore`, one per provider, made by the provider's adapter (providers/*_storage.py):
core never sees an SDK. Where the bytes go: `<bucket>/<model id>/<commit>/`.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, BinaryIO

from cloudrun import hub
from cloudrun.errors import CloudrunError, Conflict, InvalidInput

MANIFEST = "cloudrun-manifest.json"
MANIFEST_VERSION = 1
BUCKET_PREFIX = "cloudrun-weights"
SHA256_KEY = "sha256"  # object metadata names: letters and digits only, legal on all three clouds
GIT_SHA1_KEY = "gitsha1"

# Standard storage list prices, USD per GB-month (decimal GB), first tier, as each provider's public page shows them
# (read 2026-11). The rate differs a little by region; these are the reference regions' and are labelled so.
STORAGE_PRICES: dict[str, tuple[Decimal, str]] = {
    "aws": (Decimal("0.023"), "https://aws.amazon.com/s3/pricing/ (S3 Standard, first 50 TB/month, us-east-1)"),
    "gcp": (Decimal("0.020"), "https://cloud.google.com/storage/pricing (Standard storage, regional, us-central1)"),
    "azure": (Decimal("0.018"), "https://azure.microsoft.com/pricing/details/storage/blobs/ (Hot, LRS, first 50 TB, "
                                "East US)"),
}

Progress = Callable[[int], None]
"""Called with the bytes just sent (or skipped as already staged)."""


@dataclass(frozen=True)
class StoredObject:
    """An object already in the store: its size and the hashes kept in its metadata (None when absent)."""

    size: int
    sha256: str | None = None
    git_sha1: str | None = None


class WeightsStore(ABC):
    """One cloud's bucket (or container) of staged weights in one region, created and tagged by cloudrun."""

    provider: str
    region: str
    bucket: str

    @abstractmethod
    def uri(self, prefix: str = "") -> str:
        """Return the URI the cloud's serving service reads `prefix` from (s3://, gs://, https://...)."""

    @abstractmethod
    def ensure_bucket(self) -> bool:
        """Create the bucket (tagged, encrypted at rest, private) if missing; return whether it was created.

        Conflict when the name is taken by another account, or when it exists without cloudrun's tag.
        """

    @abstractmethod
    def is_managed(self) -> bool | None:
        """Return whether the bucket carries cloudrun's tag (None: it does not exist)."""

    @abstractmethod
    def list_objects(self, prefix: str) -> dict[str, StoredObject]:
        """Return every object under `prefix` (full keys), with sizes and metadata hashes."""

    @abstractmethod
    def upload(self, key: str, body: BinaryIO, size: int, metadata: dict[str, str], progress: Progress) -> None:
        """Stream `size` bytes from `body` into `key` in parts (never the whole file in memory), with `metadata`."""

    @abstractmethod
    def read(self, key: str) -> bytes | None:
        """Return a small object's content (a manifest), or None if there is none."""

    @abstractmethod
    def delete(self, keys: list[str]) -> None:
        """Delete these objects (missing ones are fine)."""


@dataclass(frozen=True)
class Manifest:
    """What a complete staged copy holds: written last, read by every deploy that loads from it."""

    model_id: str
    revision: str
    provider: str
    region: str
    uri: str
    files: tuple[dict[str, Any], ...]  # {"path", "size", "sha256"}
    staged_at: str
    source: str = hub.DEFAULT_ENDPOINT

    @property
    def total_bytes(self) -> int:
        return sum(int(f["size"]) for f in self.files)

    def to_json(self) -> bytes:
        document = {"version": MANIFEST_VERSION, "model_id": self.model_id, "revision": self.revision,
                    "provider": self.provider, "region": self.region, "uri": self.uri, "source": self.source,
                    "staged_at": self.staged_at, "total_bytes": self.total_bytes,
                    "files": list(self.files)}  # fmt: skip
        return json.dumps(document, indent=1).encode()

    @classmethod
    def from_json(cls, text: bytes) -> Manifest:
        try:
            doc = json.loads(text)
            return cls(model_id=str(doc["model_id"]), revision=str(doc["revision"]),
                       provider=str(doc["provider"]), region=str(doc["region"]), uri=str(doc["uri"]),
                       files=tuple(doc["files"]), staged_at=str(doc["staged_at"]),
                       source=str(doc.get("source", hub.DEFAULT_ENDPOINT)))  # fmt: skip
        except (ValueError, KeyError, TypeError) as exc:
            raise CloudrunError(f"a staging manifest cannot be read: {exc}") from exc


@dataclass
class StageResult:
    """What one `stage` did: the manifest written, and how many bytes were sent and skipped as already there."""

    manifest: Manifest
    sent_bytes: int = 0
    skipped_bytes: int = 0
    created_bucket: bool = False
    seconds: float = 0.0
    skipped_files: list[str] = field(default_factory=list)

    @property
    def monthly_cost_usd(self) -> Decimal:
        return monthly_cost_usd(self.manifest.provider, self.manifest.total_bytes)


def bucket_name(provider: str, account: str, region: str) -> str:
    """Return the deterministic bucket name for an account (or project, or workspace) and region.

    `cloudrun-weights-<8 hex of sha256(account)>-<region>`: lowercase letters, digits and single hyphens, at most 63
    characters, so legal as an S3 bucket, a GCS bucket and a Blob container. The hash keeps the account id out of a
    globally visible name.
    """
    digest = hashlib.sha256(f"{provider}:{account}".encode()).hexdigest()[:8]
    return f"{BUCKET_PREFIX}-{digest}-{region.lower()}"[:63].rstrip("-")


def prefix_for(model_id: str, revision: str) -> str:
    """Return the key prefix of one model at one commit, ending with '/' (SageMaker's S3Prefix wants the slash)."""
    return f"{model_id}/{revision}/"


def monthly_cost_usd(provider: str, total_bytes: int) -> Decimal:
    """Return the list price of keeping `total_bytes` a month in the provider's standard storage, in USD."""
    price, _ = STORAGE_PRICES[provider]
    return (price * Decimal(total_bytes) / Decimal(10**9)).quantize(Decimal("0.01"))


def stage(store: WeightsStore, model_id: str, *, revision: str = "main", progress: Progress | None = None,
          on_plan: Callable[[hub.Snapshot, int], None] | None = None,
          clock: Callable[[], float] | None = None) -> StageResult:  # fmt: skip
    """Return the result of copying the model's servable files from the Hub into the store, manifest last.

    `on_plan(snapshot, bytes already staged)` is called once the file list is known, before any byte moves.
    """
    import time

    clock = clock or time.monotonic
    started = clock()
    snap = hub.snapshot(model_id, revision)
    created = store.ensure_bucket()
    prefix = prefix_for(model_id, snap.revision)
    have = store.list_objects(prefix)
    done = [f for f in snap.files if matches(have.get(prefix + f.path), f)]
    skipped = sum(f.size for f in done)
    if on_plan:
        on_plan(snap, skipped)
    tick = progress or (lambda _n: None)
    tick(skipped)
    if len(done) < len(snap.files) and prefix + MANIFEST in have:
        store.delete([prefix + MANIFEST])  # files are about to change: the copy is incomplete until the new one
    entries, sent = [], 0
    for item in snap.files:
        stored = have.get(prefix + item.path)
        if item in done and stored is not None:
            entries.append({"path": item.path, "size": item.size, "sha256": stored.sha256 or item.sha256})
            continue
        sha256 = _copy(store, model_id, snap.revision, item, prefix + item.path, tick)
        entries.append({"path": item.path, "size": item.size, "sha256": sha256})
        sent += item.size
    manifest = Manifest(model_id=model_id, revision=snap.revision, provider=store.provider,
                        region=store.region, uri=store.uri(prefix), files=tuple(entries), staged_at=_now(),
                        source=hub.endpoint())  # fmt: skip
    _put_small(store, prefix + MANIFEST, manifest.to_json())  # last: its presence means every file is there
    return StageResult(manifest, sent_bytes=sent, skipped_bytes=skipped, created_bucket=created,
                       seconds=clock() - started, skipped_files=[f.path for f in done])  # fmt: skip


def complete_manifest(store: WeightsStore, model_id: str, revision: str | None = None) -> Manifest | None:
    """Return the manifest of a complete staged copy of the model (every file there at its size), or None.

    Without `revision`, the newest manifest of the model in the store.
    """
    found = [m for m in manifests(store) if m.model_id == model_id and revision in (None, m.revision)]
    for manifest in sorted(found, key=lambda m: m.staged_at, reverse=True):
        prefix = prefix_for(manifest.model_id, manifest.revision)
        have = store.list_objects(prefix)
        if all((have.get(prefix + f["path"]) or StoredObject(-1)).size == int(f["size"]) for f in manifest.files):
            return manifest
    return None


def manifests(store: WeightsStore) -> list[Manifest]:
    """Return every manifest in the store's bucket (none when the bucket does not exist or is not cloudrun's)."""
    if not store.is_managed():
        return []
    found = []
    for key in store.list_objects(""):
        if key.endswith("/" + MANIFEST):
            text = store.read(key)
            if text is not None:
                found.append(Manifest.from_json(text))
    return found


def remove(store: WeightsStore, model_id: str, *, dry_run: bool = False) -> list[str]:
    """Return the keys of every staged copy of the model in the store, deleted unless `dry_run` (manifest first, so
    a copy being removed is never taken for complete). Conflict (nothing deleted) if the bucket is not cloudrun's."""
    managed = store.is_managed()
    if managed is None:
        return []
    if not managed:
        raise Conflict(f"bucket {store.bucket} does not carry cloudrun's tag: cloudrun deletes nothing in it",
                       hint="remove the objects yourself if they are yours")  # fmt: skip
    if "/" not in model_id:
        raise InvalidInput(f"{model_id!r} is not a Hugging Face model id like owner/name")
    keys = sorted(store.list_objects(model_id + "/"), key=lambda k: (not k.endswith(MANIFEST), k))
    if keys and not dry_run:
        store.delete(keys)
    return keys


# --- internals ---------------------------------------------------------------------------------------------


def matches(stored: StoredObject | None, item: hub.HubFile) -> bool:
    """Return whether an object already staged is the Hub's file: same size and the same hash (sha256 for LFS
    files, the git blob id for the others). An object without its hash in metadata is copied again."""
    if stored is None or stored.size != item.size:
        return False
    if item.sha256:
        return stored.sha256 == item.sha256
    return bool(item.git_sha1) and stored.git_sha1 == item.git_sha1


class _Hashing:
    """A file-like reader over the Hub stream that hashes what passes through (sha256 and the git blob SHA-1)."""

    def __init__(self, body: BinaryIO, size: int) -> None:
        self._body, self.size, self.read_bytes = body, size, 0
        self.sha256 = hashlib.sha256()
        self.git_sha1 = hashlib.sha1(f"blob {size}\0".encode(), usedforsecurity=False)

    def read(self, n: int = -1) -> bytes:
        chunk = self._body.read(n)
        self.sha256.update(chunk)
        self.git_sha1.update(chunk)
        self.read_bytes += len(chunk)
        return chunk


def _copy(store: WeightsStore, model_id: str, revision: str, item: hub.HubFile, key: str, tick: Progress) -> str:
    """Stream one Hub file into the store; return its sha256. A hash that does not match the Hub's is an error and
    the store's own upload is left unfinished (a multipart upload is aborted, a block list never committed)."""
    with hub.open_file(model_id, revision, item.path) as response:
        reader = _Hashing(response, item.size)
        metadata = {SHA256_KEY: item.sha256} if item.sha256 else {}
        if item.git_sha1:
            metadata[GIT_SHA1_KEY] = item.git_sha1
        checked = _Verified(reader, item)
        store.upload(key, checked, item.size, metadata, tick)  # type: ignore[arg-type]
    return reader.sha256.hexdigest()


class _Verified:
    """The hashing reader, which raises at end of stream if the bytes are not the Hub's (size or hash)."""

    def __init__(self, reader: _Hashing, item: hub.HubFile) -> None:
        self._reader, self._item, self._checked = reader, item, False

    def read(self, n: int = -1) -> bytes:
        chunk = self._reader.read(n)
        got, size = self._reader.read_bytes, self._item.size
        if got > size:
            raise CloudrunError(f"{self._item.path}: the Hub sent more than its listed {size} bytes")
        if got == size and not self._checked:
            self._checked = True
            self._check()
        if not chunk and got < size:
            raise CloudrunError(f"{self._item.path}: the Hub stream ended at {got} of {size} bytes; "
                                "run `cloudrun stage` again to resume")  # fmt: skip
        return chunk

    def _check(self) -> None:
        item, reader = self._item, self._reader
        if item.sha256 and reader.sha256.hexdigest() != item.sha256:
            raise CloudrunError(f"{item.path}: sha256 differs from the Hub's ({item.sha256[:12]}...): not staged")
        if not item.sha256 and item.git_sha1 and reader.git_sha1.hexdigest() != item.git_sha1:
            raise CloudrunError(f"{item.path}: git blob id differs from the Hub's ({item.git_sha1[:12]}...)")


def _put_small(store: WeightsStore, key: str, content: bytes) -> None:
    import io

    store.upload(key, io.BytesIO(content), len(content), {}, lambda _n: None)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def chunks(body: BinaryIO, size: int, part_bytes: int) -> Iterator[bytes]:
    """Yield `size` bytes of `body` in parts of `part_bytes` (the last one shorter), reading each part fully."""
    left = size
    while left > 0:
        want, parts = min(part_bytes, left), []
        while want > 0:
            chunk = body.read(want)
            if not chunk:
                raise CloudrunError(f"the stream ended {left - sum(map(len, parts))} bytes early")
            parts.append(chunk)
            want -= len(chunk)
        part = b"".join(parts)
        left -= len(part)
        yield part
