"""The docs match the commands: docs/cli.md is what scripts/gen_cli_docs.py generates from --help."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _generator():
    spec = importlib.util.spec_from_file_location("gen_cli_docs", ROOT / "scripts" / "gen_cli_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_matches_the_commands():
    expected = _generator().render()
    actual = (ROOT / "docs" / "cli.md").read_text()
    assert actual == expected, "docs/cli.md is stale: run `python scripts/gen_cli_docs.py`"


def test_every_command_is_documented_with_its_options():
    text = (ROOT / "docs" / "cli.md").read_text()
    for command in ("cloudrun size", "cloudrun plan", "cloudrun deploy", "cloudrun status", "cloudrun down"):
        assert f"## `{command}`" in text
    for option in ("--precision", "--context", "--hours", "--credits", "--catalog", "--spot", "--all", "--json"):
        assert f"`{option}`" in text


def test_readme_links_resolve():
    readme = (ROOT / "README.md").read_text()
    for target in ("docs/cli.md", "docs/planning.md", "docs/catalog.md"):
        assert target in readme and (ROOT / target).exists()
