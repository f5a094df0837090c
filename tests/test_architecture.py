"""The house rules the code keeps (docs/architecture.md): read from the source, so a change that breaks one fails here.

- Core (everything in cloudrun/ but the sandbox) imports nothing under providers/ or sandbox/: adapters, price
  fetchers, credit readers, the sandbox and plugin commands are found through entry points (cloudrun/provider.py).
- Only cloudrun/state/ speaks SQL.
- The core's modules, and the sandbox's fakes, import each other without cycles at import time.
"""

from __future__ import annotations

import ast
import importlib.metadata
from pathlib import Path

import pytest

from cloudrun import provider
from cloudrun.models import PROVIDERS
from cloudrun.provider import Provider

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "cloudrun"


def core_modules(*, with_sandbox: bool = False) -> dict[str, Path]:
    found = {}
    for path in CORE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[1:2] == ("sandbox",) and not with_sandbox:
            continue
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(path: Path, *, top_level_only: bool = False) -> set[str]:
    """Return the cloudrun modules a file imports (`from cloudrun import x` counts as cloudrun.x)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cloudrun") and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("cloudrun"))
    return found


def test_core_imports_nothing_under_providers_or_the_sandbox():
    offenders = {
        name: sorted(m for m in imports(path) if m.startswith(("cloudrun.providers", "cloudrun.sandbox")))
        for name, path in core_modules().items()
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_only_the_state_room_speaks_sql():
    speaking = [str(path.relative_to(ROOT)) for name, path in core_modules().items()
                if ".execute(" in path.read_text() and not name.startswith("cloudrun.state")]  # fmt: skip
    assert speaking == []


@pytest.mark.parametrize("with_sandbox", [False, True], ids=["core", "core and the sandbox's fakes"])
def test_modules_import_each_other_without_cycles(with_sandbox):
    modules = core_modules(with_sandbox=with_sandbox)
    graph = {name: {m for m in imports(path, top_level_only=True) if m in modules and m != name}
             for name, path in modules.items()}  # fmt: skip
    for name in graph:  # a package's __init__ imports its own modules: that is not a cycle
        graph[name] = {m for m in graph[name] if not name.startswith(m + ".")}
    cycles, done, stack = [], set(), []

    def visit(node: str) -> None:
        if node in stack:
            cycles.append(stack[stack.index(node):] + [node])
            return
        if node in done:
            return
        stack.append(node)
        for nxt in sorted(graph[node]):
            visit(nxt)
        stack.pop()
        done.add(node)

    for node in sorted(graph):
        visit(node)
    assert cycles == []


@pytest.mark.parametrize("group", [provider.ENTRY_POINT_GROUP, provider.PRICES_GROUP, provider.BALANCES_GROUP,
                                   provider.COMMANDS_GROUP, provider.ENVIRONMENTS_GROUP])  # fmt: skip
def test_the_installed_entry_points_are_the_built_in_table(group):
    declared = {ep.name: ep.value for ep in importlib.metadata.entry_points(group=group)}
    assert declared == provider.BUILT_IN[group]  # pyproject.toml and the source-tree fallback agree
    for name in declared:
        assert provider.hook(group, name) is not None  # each resolves to an object


def test_a_fourth_cloud_is_an_entry_not_an_edit(monkeypatch):
    class FakeCloud(Provider):  # the smallest adapter a plugin could ship
        name, service, extra = "fake", "fake", "fake"
        check = quota = create = render_requests = describe = invoke = delete = list_managed = invocations = None

    monkeypatch.setattr(provider, "_registries", {})
    monkeypatch.setitem(globals(), "FakeCloud", FakeCloud)
    fake = importlib.metadata.EntryPoint("fake", f"{__name__}:FakeCloud", provider.ENTRY_POINT_GROUP)
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda group: [fake] if group == provider.ENTRY_POINT_GROUP else [])  # fmt: skip
    assert provider.known("fake") and set(PROVIDERS) <= set(provider.registry())
    assert provider.provider_class("fake") is FakeCloud
