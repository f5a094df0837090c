"""The state store against real databases: lifecycle, adoption, two processes at once on SQLite and on PostgreSQL
(the `database_url` fixture, tests/conftest.py); the safety of the SQLite file (a newer schema, another program's
database, a lock held too long) on SQLite."""

from __future__ import annotations

import multiprocessing
import re
import sqlite3
import stat
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from cloudrun import paths
from cloudrun.errors import Conflict, InvalidInput, NotFound
from cloudrun.models import (
    DEPLOYMENT_TAG,
    MANAGED_TAG,
    DeploymentStatus,
    DeploySpec,
    Endpoint,
    EndpointRef,
    EndpointState,
    Precision,
)
from cloudrun.state import StateError, StateStore
from cloudrun.state.migrations import HEAD, REVISIONS
from cloudrun.state.store import whoami
from tests.factories import NOW


def spec(name: str = "ds-67b", **changes: object) -> DeploySpec:
    fields: dict[str, object] = {
        "name": name,
        "model_id": "deepseek-ai/deepseek-llm-67b-chat",
        "provider": "aws",
        "service": "sagemaker",
        "region": "us-east-1",
        "instance_type": "ml.g5.48xlarge",
        "gpu_count": 8,
        "tensor_parallel": 8,
        "context": 4096,
        "precision": Precision.bf16,
    }
    return DeploySpec(**{**fields, **changes})


def ref(name: str = "ds-67b") -> EndpointRef:
    return EndpointRef(provider="aws", region="us-east-1", name=name, endpoint_id=f"{name}-ep", resources={"m": "x"})


def endpoint(name: str = "ds-67b", state: EndpointState = EndpointState.in_service, **changes: object) -> Endpoint:
    fields: dict[str, object] = {
        "ref": ref(name),
        "state": state,
        "instance_type": "ml.g5.12xlarge",
        "instance_count": 1,
        "tags": {MANAGED_TAG: "true", DEPLOYMENT_TAG: name},
    }
    return Endpoint(**{**fields, **changes})


def intent(store: StateStore, name: str = "ds-67b", price: str = "20.3600", at=NOW):
    return store.record_intent(spec(name), price_per_hour_usd=Decimal(price), price_source="snapshot 2026-11", now=at)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state.db"


@pytest.fixture
def store(database_url: str):
    with StateStore(url=database_url) as opened:
        yield opened


def test_lifecycle_intent_to_deleted_logs_every_transition(store: StateStore) -> None:
    recorded = intent(store)
    assert recorded.status is DeploymentStatus.intent
    store.mark_creating("ds-67b", ref(), now=NOW + timedelta(minutes=1))
    store.mark_ready("ds-67b", now=NOW + timedelta(minutes=9))
    store.mark_deleting("ds-67b", now=NOW + timedelta(hours=2), reason="idle for 30 minutes")
    store.mark_deleted("ds-67b", now=NOW + timedelta(hours=2, minutes=1))

    row = store.get("ds-67b")
    assert row is not None
    assert row.status is DeploymentStatus.deleted
    assert row.ref == ref()
    assert row.created_at == NOW
    assert row.ready_at == NOW + timedelta(minutes=9)
    assert row.deleted_at == NOW + timedelta(hours=2, minutes=1)
    assert row.created_at.utcoffset() == timedelta(0)
    assert row.cost_so_far(NOW + timedelta(days=9)) == Decimal("20.3600") * Decimal(121) / Decimal(60)

    events = store.events("ds-67b")
    assert [e["kind"] for e in events] == ["intent", "creating", "in_service", "deleting", "deleted"]
    assert events[3]["detail"] == "in_service -> deleting: idle for 30 minutes"
    assert events[2]["at"] == NOW + timedelta(minutes=9)
    assert store.list() == []
    assert [d.name for d in store.list(include_deleted=True)] == ["ds-67b"]


def test_a_transition_without_now_stamps_the_row_and_its_event_alike(store: StateStore) -> None:
    intent(store)
    ready = store.mark_ready("ds-67b")
    assert ready.ready_at is not None and ready.ready_at.utcoffset() == timedelta(0)
    assert store.events("ds-67b")[-1]["at"] == ready.ready_at


def test_failed_and_vanished_keep_their_reason_and_end_time(store: StateStore) -> None:
    intent(store, "a")
    intent(store, "b")
    store.mark_failed("a", "capacity: no ml.g5.48xlarge in us-east-1", now=NOW)
    store.mark_vanished("b", now=NOW + timedelta(hours=1), reason="not found in the cloud")
    failed, vanished = store.get("a"), store.get("b")
    assert failed is not None and failed.failure_reason == "capacity: no ml.g5.48xlarge in us-east-1"
    assert failed.status is DeploymentStatus.failed
    assert vanished is not None and vanished.deleted_at == NOW + timedelta(hours=1)
    assert [d.name for d in store.list()] == ["a"]


def test_state_file_and_its_folder_are_private(db_path: Path) -> None:
    with StateStore() as store:
        intent(store)
        assert store.path == paths.home() / "state.db"
        assert stat.S_IMODE(paths.home().stat().st_mode) == 0o700
        files = [store.path, *store.path.parent.glob("state.db-*")]
        assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}
    with StateStore(db_path):
        assert stat.S_IMODE(db_path.stat().st_mode) == 0o600


def test_a_live_name_is_refused_and_a_deleted_one_reused(store: StateStore) -> None:
    intent(store, price="1")
    message = f"a deployment named 'ds-67b' already exists (intent, deployed by {whoami()})"
    with pytest.raises(Conflict, match=re.escape(message)) as raised:
        intent(store, price="2")
    assert "cloudrun down ds-67b" in str(raised.value.hint)
    store.mark_creating("ds-67b", ref())
    with pytest.raises(Conflict, match="creating"):
        intent(store, price="2")

    store.mark_deleted("ds-67b", now=NOW + timedelta(hours=1))
    reused = intent(store, price="2", at=NOW + timedelta(hours=2))
    assert reused.ref is None
    assert store.get("ds-67b") == reused
    kinds = [e["kind"] for e in store.events("ds-67b")]
    assert kinds == ["intent", "creating", "deleted", "intent"]
    assert "reuses the name" in store.events("ds-67b")[-1]["detail"]


def test_forget_intent_removes_the_row_and_keeps_history(store: StateStore) -> None:
    intent(store)
    store.forget_intent("ds-67b", reason="invalid instance type")
    assert store.get("ds-67b") is None
    assert [e["kind"] for e in store.events("ds-67b")] == ["intent", "forgotten"]
    with pytest.raises(NotFound):
        store.forget_intent("ds-67b")


def test_forget_intent_refuses_a_row_that_may_exist_in_the_cloud(store: StateStore) -> None:
    intent(store)
    store.mark_creating("ds-67b", ref())
    with pytest.raises(Conflict, match="not intent"):
        store.forget_intent("ds-67b")
    assert store.get("ds-67b") is not None


@pytest.mark.parametrize("method", ["mark_ready", "mark_deleting", "mark_deleted", "mark_vanished"])
def test_unknown_name_is_not_found(store: StateStore, method: str) -> None:
    with pytest.raises(NotFound, match="'nope'"):
        getattr(store, method)("nope")
    assert store.events() == []


def test_adopt_an_orphan(store: StateStore) -> None:
    found = endpoint("orphan-1", created_at=NOW - timedelta(hours=3))
    adopted = store.adopt(found, service="sagemaker", now=NOW)
    assert adopted == store.get("orphan-1")
    assert adopted.adopted
    assert adopted.status is DeploymentStatus.in_service
    assert adopted.created_at == NOW - timedelta(hours=3)
    assert (adopted.model_id, adopted.price_per_hour_usd, adopted.price_source) == (
        "unknown",
        Decimal(0),
        "unknown (adopted)",
    )
    assert adopted.ref == ref("orphan-1")
    assert adopted.instance_type == "ml.g5.12xlarge"
    assert [e["kind"] for e in store.events("orphan-1")] == ["adopted"]
    with pytest.raises(Conflict):
        store.adopt(found, service="sagemaker")


def test_adopt_completes_an_interrupted_deploy(store: StateStore) -> None:
    intent(store)
    adopted = store.adopt(endpoint(state=EndpointState.creating), service="sagemaker", now=NOW + timedelta(minutes=5))
    assert adopted.status is DeploymentStatus.creating
    assert adopted.adopted
    assert adopted.ref == ref()
    assert adopted.created_at == NOW  # the cloud gave no creation time: the intent's stands
    assert (adopted.model_id, adopted.price_per_hour_usd, adopted.gpu_count) == (
        "deepseek-ai/deepseek-llm-67b-chat",
        Decimal("20.3600"),
        8,
    )
    assert [e["kind"] for e in store.events("ds-67b")] == ["intent", "adopted"]


@pytest.mark.parametrize(
    ("cloud", "expected"),
    [
        (EndpointState.in_service, DeploymentStatus.in_service),
        (EndpointState.creating, DeploymentStatus.creating),
        (EndpointState.updating, DeploymentStatus.creating),
        (EndpointState.failed, DeploymentStatus.failed),
        (EndpointState.deleting, DeploymentStatus.deleting),
        (EndpointState.deleted, DeploymentStatus.vanished),
    ],
)
def test_adopt_maps_cloud_states(store: StateStore, cloud: EndpointState, expected: DeploymentStatus) -> None:
    adopted = store.adopt(endpoint(state=cloud), service="sagemaker", now=NOW)
    assert adopted.status is expected
    assert (adopted.deleted_at is not None) == (expected is DeploymentStatus.vanished)


def test_adopt_refuses_an_endpoint_without_cloudrun_tags(store: StateStore) -> None:
    with pytest.raises(InvalidInput, match=MANAGED_TAG):
        store.adopt(endpoint(tags={}), service="sagemaker")
    with pytest.raises(InvalidInput, match=DEPLOYMENT_TAG):
        store.adopt(endpoint(tags={MANAGED_TAG: "true", DEPLOYMENT_TAG: "other"}), service="sagemaker")
    assert store.list(include_deleted=True) == []


def test_decimal_and_booleans_round_trip_exactly(store: StateStore, database_url: str) -> None:
    store.record_intent(spec("spot-1", spot=True), price_per_hour_usd=Decimal("20.3600"), price_source="list", now=NOW)
    with StateStore(url=database_url) as reopened:
        row = reopened.get("spot-1")
        with reopened.reading() as conn:
            raw = tuple(conn.exec_driver_sql("SELECT price_per_hour_usd, spot, owner FROM deployments").one())
    assert row is not None
    assert str(row.price_per_hour_usd) == "20.3600"
    assert row.spot is True and row.adopted is False
    assert row.precision == "bf16"
    assert raw == ("20.3600", 1, whoami())


def test_list_is_ordered_by_creation(store: StateStore) -> None:
    for name, minutes in (("late", 30), ("early", 0), ("middle", 10)):
        intent(store, name, at=NOW + timedelta(minutes=minutes))
    assert [d.name for d in store.list()] == ["early", "middle", "late"]


def test_a_newer_schema_is_refused_and_the_file_left_unchanged(db_path: Path) -> None:
    with StateStore(db_path) as store:
        intent(store)
    with sqlite3.connect(db_path) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    before = db_path.read_bytes()
    with pytest.raises(StateError) as raised:
        StateStore(db_path)
    assert str(raised.value) == (
        f"state database {db_path} was written by a newer cloudrun (schema 99, this version knows {HEAD}):"
        " upgrade cloudrun, or set CLOUDRUN_HOME or CLOUDRUN_DATABASE_URL to another database"
    )
    assert db_path.read_bytes() == before
    assert not list(db_path.parent.glob("state.db-*"))


@pytest.mark.parametrize("content", [b"not a database", b"SQLite format 3\x00" + b"\xff" * 4096])
def test_a_file_that_is_not_a_database_is_refused_and_left_unchanged(db_path: Path, content: bytes) -> None:
    db_path.write_bytes(content)
    with pytest.raises(StateError, match="is not a cloudrun state database .*left untouched.*move it aside") as raised:
        StateStore(db_path)
    assert db_path.read_bytes() == content
    assert not list(db_path.parent.glob("state.db-*"))
    assert str(db_path) in str(raised.value) and "\n" not in str(raised.value)


def test_another_programs_database_is_refused_and_left_unchanged(db_path: Path) -> None:
    with sqlite3.connect(db_path) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    conn.close()
    before = db_path.read_bytes()
    with pytest.raises(StateError, match="another program's tables"):
        StateStore(db_path)
    assert db_path.read_bytes() == before
    assert not list(db_path.parent.glob("state.db-*"))


def test_a_lock_held_too_long_is_a_clear_error(db_path: Path) -> None:
    store = StateStore(db_path)
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with StateStore(db_path, timeout=0.1) as waiting, pytest.raises(StateError, match="stayed locked"):
            intent(waiting)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.get("ds-67b") is None
    store.close()


def test_revisions_are_numbered_in_order() -> None:
    assert list(REVISIONS) == [f"{n:04d}" for n in range(1, len(REVISIONS) + 1)]


def _record_intents(path: str, prefix: str, count: int, barrier) -> None:
    """Run in a child process: open the (possibly new) store per intent, as separate CLI calls would."""
    barrier.wait(timeout=60)
    for i in range(count):
        with StateStore(Path(path)) as store:
            store.record_intent(spec(f"{prefix}-{i}"), price_per_hour_usd=Decimal("1.5"), price_source="test")


def test_two_processes_write_at_once(db_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    workers = [context.Process(target=_record_intents, args=(str(db_path), p, 50, barrier)) for p in ("a", "b")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0, 0]
    with StateStore(db_path) as store:
        names = {d.name for d in store.list()}
        assert len(store.events()) == 100
    assert names == {f"{p}-{i}" for p in ("a", "b") for i in range(50)}
