"""Public citations only: what users can read (data, templates, docs, notes) names a public page, API or file.

The team's research notes ("cloud-facts §5.1") and their private file index ("idx 57136749889") are not
something a user can open, so no shipped text may cite them.
"""

import csv
import json
import re
from pathlib import Path

import pytest

from cloudrun import catalog
from cloudrun.credits import presets

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("cloudrun", "providers", "templates", "docs", "scripts")
TEXT = {".py", ".csv", ".json", ".md", ".yml", ".yaml", ".toml", ".txt"}
PRIVATE = re.compile(r"cloud-facts|shared/reference|\bidx \d{6,}", re.IGNORECASE)
PUBLIC = re.compile(r"[a-z0-9-]+\.(?:com|org|io|ai|dev|net|sh)\b|[\w.-]+/[\w.-]+", re.IGNORECASE)


def _shipped_files():
    files = [ROOT / "README.md"]
    for top in SHIPPED:
        files += [p for p in (ROOT / top).rglob("*") if p.suffix in TEXT and "__pycache__" not in p.parts]
    return files


@pytest.mark.parametrize("path", _shipped_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_shipped_file_cites_the_private_research_notes(path):
    hits = [f"line {n}: {line.strip()[:100]}" for n, line in enumerate(path.read_text("utf-8").splitlines(), 1)
            if PRIVATE.search(line)]  # fmt: skip
    assert not hits, f"{path.relative_to(ROOT)} cites what users cannot open: {hits}"


def test_the_rule_catches_what_it_is_for():
    assert PRIVATE.search("price 1.408 (cloud-facts §5.1)") and PRIVATE.search("same in idx 67049560902")
    assert not PRIVATE.search("aws.amazon.com/sagemaker/pricing, 2026-09-27")


def test_every_bundled_price_names_a_public_source():
    for offer in catalog.bundled():
        assert PUBLIC.search(offer.source), (offer.instance_type, offer.region, offer.source)


def test_every_preset_rule_names_a_public_source_or_says_it_is_unverified():
    for preset in presets.PRESETS.values():
        for rule in preset.rules:
            cited = PUBLIC.search(rule.note) or rule.note == "your offer"
            assert cited or (not rule.verified and rule.note.startswith("unverified")), (preset.name, rule.note)


def test_gpu_and_quantization_facts_name_their_source():
    with (ROOT / "cloudrun" / "data" / "gpus.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            assert PUBLIC.search(row["source"]), row["gpu_model"]
    quantized = json.loads((ROOT / "cloudrun" / "data" / "quantized.json").read_text("utf-8"))
    for name, entry in quantized.items():
        if not name.startswith("_"):
            assert PUBLIC.search(entry["source"]), name
