"""The refreshed price cache: <cache folder>/catalog/<provider>.csv and meta.json.

The cache folder is the platform's user cache folder (e.g. ~/.cache/cloudrun), or CLOUDRUN_HOME when that is set
(paths.cache_home). A cache that an earlier release left in the user data folder is moved to the cache folder
the first time it is looked for, so nobody loses refreshed prices on upgrade.

`cloudrun catalog refresh` writes one CSV per provider (the catalog's columns, so `load_csv` reads it
with the same strict rules) and records in meta.json when each provider was refreshed. Files are written
to a temporary name and renamed, so a reader never sees half a file and a failed refresh leaves the
previous cache whole. This module does no network I/O and imports no cloud SDK: `plan` reads it.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cloudrun import paths
from cloudrun.catalog_rows import COLUMNS
from cloudrun.errors import InvalidInput
from cloudrun.plain import Offer

META_NAME = "meta.json"


def cache_dir() -> Path:
    """Return the cache folder (not created: only a refresh, or moving an old cache into it, creates it)."""
    folder = paths.cache_home() / "catalog"
    legacy = paths.legacy_cache_home()
    if legacy is not None and not folder.exists() and (legacy / "catalog").is_dir():
        return _adopt(legacy / "catalog", folder)
    return folder


def _adopt(old: Path, new: Path) -> Path:
    """Move an earlier release's cache (in the data folder) to the cache folder, once; return where to read it.

    A rename when both are on one file system; else a copy, then the old one is removed. If neither works (a
    read-only folder, say), the old cache is read where it is, and the next refresh writes the new one.
    """
    try:
        paths.private_dir(new.parent)
        try:
            os.rename(old, new)
        except OSError:
            shutil.copytree(old, new)
            shutil.rmtree(old, ignore_errors=True)
    except OSError:
        if old.is_dir():  # still there, whole: drop a half-made copy (not a cache another process just moved)
            shutil.rmtree(new, ignore_errors=True)
        return old
    return new


def provider_file(provider: str) -> Path:
    return cache_dir() / f"{provider}.csv"


def refreshed_at(provider: str) -> datetime | None:
    """Return when this provider's cache was last written, or None when it has none."""
    entry = read_meta().get(provider)
    if not entry or not provider_file(provider).is_file():
        return None
    try:
        stamp = datetime.fromisoformat(entry["refreshed_at"])
    except (KeyError, TypeError, ValueError):
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)


def read_meta() -> dict[str, Any]:
    """Return meta.json's per-provider entries ({} when there is no cache yet)."""
    path = cache_dir() / META_NAME
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise InvalidInput(
            f"the price cache index {path} is unreadable: {exc}",
            hint="delete it and run `cloudrun catalog refresh`",
        ) from None
    providers = document.get("providers") if isinstance(document, dict) else None
    return providers if isinstance(providers, dict) else {}


def write_provider(provider: str, offers: Iterable[Offer], now: datetime, **details: Any) -> Path:
    """Replace one provider's cache file with these offers, then record the refresh time in meta.json."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for offer in offers:
        writer.writerow(_cells(offer))
    path = provider_file(provider)
    _atomic_write(path, buffer.getvalue())
    meta = read_meta()
    meta[provider] = {"refreshed_at": now.astimezone(timezone.utc).isoformat(), **details}
    _atomic_write(cache_dir() / META_NAME, json.dumps({"providers": meta}, indent=2, sort_keys=True) + "\n")
    return path


def _cells(offer: Offer) -> list[str]:
    spot = offer.spot_price_per_hour_usd
    return [
        offer.provider,
        offer.service,
        offer.region,
        offer.instance_type,
        offer.gpu_model,
        str(offer.gpu_count),
        str(offer.gpu_memory_gb),
        str(offer.vcpus),
        str(offer.memory_gb),
        str(offer.price_per_hour_usd),
        "" if spot is None else str(spot),
        offer.source,
        offer.as_of,
    ]


def _atomic_write(path: Path, text: str) -> None:
    paths.private_dir(path.parent)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
