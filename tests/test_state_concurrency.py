"""Ten processes on one state database, SQLite and PostgreSQL alike (the `database_url` fixture): every name is
deployed once, every endpoint's deletion claimed once, no ledger write lost. Each worker opens its own store, as
ten cloudrun commands on ten machines would; nothing but the database stands between them."""

from __future__ import annotations

import multiprocessing
import random
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from cloudrun.credits.ledger import Ledger, LedgerGrant
from cloudrun.credits.runway import Observation
from cloudrun.errors import Conflict
from cloudrun.models import DeploymentStatus, EndpointRef
from cloudrun.state import StateStore
from cloudrun.state import deletions as claims
from tests.factories import NOW
from tests.test_state import spec

WORKERS = 10
NAMES = [f"ep-{i}" for i in range(12)]
H = timedelta(hours=1)


def _deployer(url: str, worker: int, barrier: Any, results: Any) -> None:
    """Try to deploy every name, in an order of its own; report the names this worker got."""
    order = random.Random(worker).sample(NAMES, len(NAMES))
    won = []
    with StateStore(url=url) as store:
        barrier.wait(timeout=120)
        for name in order:
            try:
                store.record_intent(spec(name), price_per_hour_usd=Decimal("1.25"), price_source="test",
                                    owner=f"member-{worker}")  # fmt: skip
                won.append(name)
            except Conflict:
                continue
    results.put((worker, won))


def _deleter(url: str, worker: int, barrier: Any, results: Any) -> None:
    """Try to claim every deployment's deletion; settle each claim this worker got, as the delete path does."""
    order = random.Random(worker).sample(NAMES, len(NAMES))
    deleted = []
    with StateStore(url=url) as store:
        barrier.wait(timeout=120)
        for name in order:
            if claims.claim(store, name, f"teardown by worker {worker}").deployment is not None:
                deleted.append(name)  # the cloud's delete call would be here: made once per endpoint
                store.mark_deleted(name, reason=f"deleted by worker {worker}")
    results.put((worker, deleted))


def _ledger_writer(url: str, worker: int, barrier: Any, results: Any) -> None:
    """Add grants of its own and observations, and race every other worker for one shared grant name."""
    won_shared = False
    with StateStore(url=url) as store:
        ledger = Ledger(store)
        barrier.wait(timeout=120)
        try:
            ledger.add(_grant(f"shared-{worker}", "shared"))
            won_shared = True
        except Conflict:
            pass
        for i in range(4):
            grant = ledger.add(_grant(f"g-{worker}-{i}", f"credit-{worker}-{i}"))
            for j in range(3):
                ledger.tables.insert_observation(Observation(
                    grant_id=grant.id, observed_at=NOW + j * H, remaining_usd=Decimal(100 - j), source="manual",
                    expires_at=None, stale_reason=None,
                ))  # fmt: skip
    results.put((worker, won_shared))


def _grant(grant_id: str, name: str) -> LedgerGrant:
    return LedgerGrant(id=grant_id, provider="aws", name=name, amount_usd=Decimal(100), starts_at=NOW - 10 * H,
                       expires_at=NOW + 1000 * H, services=("sagemaker",), gpu_eligible=True,
                       created_at=NOW)  # fmt: skip


def run_workers(target: Any, url: str) -> dict[int, Any]:
    """Run WORKERS processes of `target` at once (a barrier lines them up); return each one's report."""
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(WORKERS), context.Queue()
    workers = [context.Process(target=target, args=(url, n, barrier, results)) for n in range(WORKERS)]
    for worker in workers:
        worker.start()
    reports = dict(results.get(timeout=300) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0] * WORKERS
    return reports


@pytest.fixture
def url(database_url: str) -> str:
    with StateStore(url=database_url):  # created (migrated) once, before the race
        pass
    return database_url


def test_ten_processes_deploy_every_name_once(url: str) -> None:
    reports = run_workers(_deployer, url)
    wins = Counter(name for won in reports.values() for name in won)
    assert wins == Counter(NAMES)  # each name won by exactly one worker
    with StateStore(url=url) as store:
        rows = {d.name: d for d in store.list()}
        assert set(rows) == set(NAMES)
        owners = {name: f"member-{w}" for w, won in reports.items() for name in won}
        assert {name: d.owner for name, d in rows.items()} == owners
        assert Counter(e["name"] for e in store.events() if e["kind"] == "intent") == Counter(NAMES)


def test_ten_processes_delete_every_endpoint_once(url: str) -> None:
    with StateStore(url=url) as store:
        for name in NAMES:
            store.record_intent(spec(name), price_per_hour_usd=Decimal(1), price_source="test", now=NOW)
            store.mark_creating(name, EndpointRef(provider="aws", region="us-east-1", name=name, endpoint_id=name))
            store.mark_ready(name)
    reports = run_workers(_deleter, url)
    deletes = Counter(name for deleted in reports.values() for name in deleted)
    assert deletes == Counter(NAMES)  # one delete call per endpoint, across all ten
    with StateStore(url=url) as store:
        assert {d.status for d in store.list(include_deleted=True)} == {DeploymentStatus.deleted}
        assert Counter(e["name"] for e in store.events() if e["kind"] == "deleting") == Counter(NAMES)
        assert claims.pending(store) == {}


def test_ten_processes_lose_no_ledger_write(url: str) -> None:
    reports = run_workers(_ledger_writer, url)
    assert sum(reports.values()) == 1  # one worker got the shared name; nine were refused
    with StateStore(url=url) as store:
        ledger = Ledger(store)
        names = [g.name for g in ledger.grants()]
        assert sorted(names) == sorted(["shared"] + [f"credit-{w}-{i}" for w in range(WORKERS) for i in range(4)])
        assert len(ledger.observations()) == WORKERS * 4 * 3
