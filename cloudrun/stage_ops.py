"""`cloudrun stage` as library calls: copy a model's weights into a provider's region, list the copies, remove one.

Each takes plain values, checks them (cloudrun.inputs) before any call, and raises cloudrun errors; the CLI
(cloudrun/cli/stage.py) only parses and renders. The cloud side is the adapter's `weights_store(region)`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from cloudrun import hub, inputs, planning, stage_in_cloud, staging
from cloudrun.errors import InvalidInput
from cloudrun.models import Precision
from cloudrun.provider import ProviderLoader
from cloudrun.staging import StageResult, WeightsStore
from cloudrun.state import StateStore
from cloudrun.state import staged as staged_store
from cloudrun.state.staged import StagedCopy


def checkpoint(model: str, precision: Precision | str | None = None, quantized_model: str | None = None) -> str:
    """Return the Hugging Face id a deploy at this precision loads (the model, or its pre-quantized checkpoint)."""
    if precision is None and quantized_model is None:
        return model
    return planning.size(model, precision=precision, quantized_model=quantized_model).loaded_checkpoint


def store_for(load: ProviderLoader, provider: str, region: str) -> WeightsStore:
    """Return the provider's weights store in `region`, both checked first; InvalidInput if it cannot stage."""
    name = inputs.provider(provider)
    where = inputs.region(name, region, "--region")
    adapter = load(name)
    if not adapter.can_stage_weights:
        raise InvalidInput(f"cloudrun cannot stage weights on {name} yet", hint="deploy there loads from the Hub")
    return adapter.weights_store(where)


def copier_for(load: ProviderLoader, provider: str, region: str) -> stage_in_cloud.CloudCopier:
    """Return the provider's machine in `region` that stages weights (`stage --in-cloud`); InvalidInput if none."""
    name = inputs.provider(provider)
    where = inputs.region(name, region, "--region")
    adapter = load(name)
    if not adapter.can_stage_in_cloud:
        raise InvalidInput(f"--in-cloud is offered on aws only, not on {name} yet",
                           hint="stage without --in-cloud, or from a VM in the region")  # fmt: skip
    return adapter.in_cloud_copier(where)


def stage_model(
    state: StateStore,
    load: ProviderLoader,
    model: str,
    provider: str,
    region: str,
    *,
    precision: Precision | str | None = None,
    quantized_model: str | None = None,
    revision: str = "main",
    progress: staging.Progress | None = None,
    on_plan: Callable[[hub.Snapshot, int], None] | None = None,
    in_cloud: bool = False,
    on_job: Callable[[str, str, hub.Snapshot, int], None] | None = None,
) -> StageResult:
    """Return the result of staging the model's weights in (provider, region); the copy is recorded in the state.

    With `in_cloud`, a machine in the region makes the copy (stage_in_cloud); `on_job(job, what runs it, snapshot,
    bytes already staged)` is called once it has started.
    """
    wanted = checkpoint(model, precision, quantized_model)
    if in_cloud:
        copier = copier_for(load, provider, region)
        started = (lambda job, snap, already: on_job(job, copier.describe, snap, already)) if on_job else None
        result = stage_in_cloud.stage(copier, wanted, revision=revision, on_start=started)
    else:
        result = staging.stage(store_for(load, provider, region), wanted, revision=revision, progress=progress,
                               on_plan=on_plan)  # fmt: skip
    manifest = result.manifest
    staged_store.record(state, StagedCopy(uri=manifest.uri, provider=manifest.provider, region=manifest.region,
                                          model_id=manifest.model_id, revision=manifest.revision,
                                          total_bytes=manifest.total_bytes, files=len(manifest.files),
                                          staged_at=datetime.fromisoformat(manifest.staged_at)))  # fmt: skip
    return result


def staged(state: StateStore) -> list[StagedCopy]:
    """Return the staged copies this machine recorded and has not removed."""
    return staged_store.copies(state)


def unstage(state: StateStore, load: ProviderLoader, model: str, provider: str, region: str, *,
            dry_run: bool = False) -> list[str]:  # fmt: skip
    """Return the objects of the model's staged copies in (provider, region), removed unless `dry_run`.

    Only in cloudrun's tagged bucket (Conflict, nothing removed, otherwise); the state row is marked removed.
    """
    store = store_for(load, provider, region)
    keys = staging.remove(store, model, dry_run=dry_run)
    if not dry_run:
        staged_store.mark_removed(state, store.provider, store.region, model)
    return keys


def monthly_cost_usd(copies: list[StagedCopy]) -> dict[str, object]:
    """Return the staged copies' storage cost per month (list price) in total and per provider, with the sources."""
    totals: dict[str, int] = {}
    for c in copies:
        totals[c.provider] = totals.get(c.provider, 0) + c.total_bytes
    per = {provider: staging.monthly_cost_usd(provider, total) for provider, total in totals.items()}
    return {"total_usd": sum(per.values(), start=Decimal(0)), "by_provider_usd": per,
            "sources": {p: staging.STORAGE_PRICES[p][1] for p in per}}  # fmt: skip


def use_staged(deploy_plan: Any, state: StateStore) -> list[str]:
    """Point each placement at the model's staged copy in its provider and region, where one is recorded; return
    the URIs used. The adapter checks the copy's manifest before it creates anything (a copy cut short is refused).
    """
    used = []
    for index, target in enumerate(deploy_plan.targets):
        spec = target.spec
        found = staged_store.find(state, spec.provider, spec.region, spec.served_model)
        if found is not None and not spec.weights_uri:
            staged_spec = spec.model_copy(update={"weights_uri": found.uri})
            deploy_plan.targets[index] = dataclasses.replace(target, spec=staged_spec)
            used.append(found.uri)
    return used


def stage_first(state: StateStore, load: ProviderLoader, deploy_plan: Any, **options: Any) -> StageResult | None:
    """Stage the model in the first placement's provider and region (deploy --stage), unless it is staged there or
    that provider cannot stage; return what was staged, or None."""
    spec = deploy_plan.targets[0].spec
    if staged_store.find(state, spec.provider, spec.region, spec.served_model) is not None:
        return None
    if not load(spec.provider).can_stage_weights:
        return None
    return stage_model(state, load, spec.served_model, spec.provider, spec.region, **options)
