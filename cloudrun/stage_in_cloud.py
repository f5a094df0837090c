"""`cloudrun stage --in-cloud`: the copy made by a machine in the bucket's region instead of this one. Opt-in.

`cloudrun stage` streams Hub -> this machine -> the bucket; over a home uplink a 67B takes hours. A machine in the
region (on AWS a SageMaker Processing job, providers/aws_stage_job.py) reads the Hub at data-centre rates and
writes next to it. It follows the same plan and leaves the same layout as cloudrun.staging (objects with their
hashes in metadata, the manifest last), so either copy resumes the other's; this machine only lists the files,
starts the job, waits for it and checks the manifest it wrote. The cloud side is the adapter's `in_cloud_copier`.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from cloudrun import hub, staging
from cloudrun.errors import CloudrunError
from cloudrun.staging import StageResult, WeightsStore

POLL_S = 15.0
RUNNING, DONE, FAILED = "running", "done", "failed"


class CloudCopier(ABC):
    """A machine in the weights store's region that runs a staging plan."""

    store: WeightsStore
    describe: str  # what it is, for the user: "SageMaker Processing job on ml.m5.xlarge"

    @abstractmethod
    def start(self, plan: dict[str, Any], token: str | None) -> str:
        """Start the copy of `plan` (HF token only for a gated model); return the job's name."""

    @abstractmethod
    def status(self, job: str) -> tuple[str, str]:
        """Return (RUNNING, DONE or FAILED, the cloud's own detail)."""

    @abstractmethod
    def cleanup(self, job: str) -> None:
        """Remove what start() left beside the weights (the plan and the script); the job itself is the cloud's."""


def plan(store: WeightsStore, snap: hub.Snapshot, source: str) -> dict[str, Any]:
    """Return the plan a machine in the cloud follows: where to write, the files with their sizes and hashes, and
    the manifest's fields (it adds staged_at, total_bytes and each file's sha256 when it writes it, last)."""
    prefix = staging.prefix_for(snap.model_id, snap.revision)
    manifest = {"version": staging.MANIFEST_VERSION, "model_id": snap.model_id, "revision": snap.revision,
                "provider": store.provider, "region": store.region, "uri": store.uri(prefix), "source": source}
    files = [{"path": f.path, "size": f.size, "sha256": f.sha256, "git_sha1": f.git_sha1} for f in snap.files]
    return {"bucket": store.bucket, "region": store.region, "prefix": prefix, "hub": source,
            "revision": snap.revision, "files": files, "manifest": manifest}  # fmt: skip


def stage(copier: CloudCopier, model_id: str, *, revision: str = "main",
          on_start: Callable[[str, hub.Snapshot, int], None] | None = None,
          sleep: Callable[[float], None] = time.sleep,
          clock: Callable[[], float] = time.monotonic) -> StageResult:  # fmt: skip
    """Return the result of the copy a machine in the cloud made, once its manifest is there and complete.

    `on_start(job, snapshot, bytes already staged)` is called once the job is started. A failed job leaves what it
    copied (the next run, here or in the cloud, resumes it) and raises with the cloud's reason.
    """
    store, started = copier.store, clock()
    snap = hub.snapshot(model_id, revision)
    created = store.ensure_bucket()
    prefix = staging.prefix_for(model_id, snap.revision)
    have = store.list_objects(prefix)
    already = sum(f.size for f in snap.files if staging.matches(have.get(prefix + f.path), f))
    token = None if hub.public(model_id, snap.revision) else hub.token()
    job = copier.start(plan(store, snap, hub.endpoint()), token)
    if on_start:
        on_start(job, snap, already)
    state, detail = copier.status(job)
    while state == RUNNING:
        sleep(POLL_S)
        state, detail = copier.status(job)
    copier.cleanup(job)
    if state == FAILED:
        raise CloudrunError(f"the in-cloud copy ({job}) failed: {detail}",
                            hint="run the same `cloudrun stage` again (it resumes), with or without --in-cloud")
    manifest = staging.complete_manifest(store, model_id, snap.revision)
    if manifest is None:
        raise CloudrunError(f"the in-cloud copy ({job}) finished without a complete manifest at {store.uri(prefix)}",
                            hint="run the same `cloudrun stage` again: it resumes")  # fmt: skip
    return StageResult(manifest, sent_bytes=manifest.total_bytes - already, skipped_bytes=already,
                       created_bucket=created, seconds=clock() - started)  # fmt: skip
