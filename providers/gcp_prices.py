"""Vertex AI online prediction prices from the Cloud Billing Catalog API (google-cloud-billing).

`CloudCatalogClient.list_skus(parent="services/C7E2-9256-1C43")` (the Vertex AI service) gives the
prediction parts; a machine type's price per region is GPU-hours + vCPU-hours + GiB-hours of its family
(`gcp_skus` says how SKUs are read, `templates/gpu_shapes.csv` what each machine type holds). Spot prices
add the Compute Engine spot SKUs (`services/6F81-5844-456A`) to the Vertex management fee.
Credentials: an API key in CLOUDRUN_GCP_API_KEY, else Application Default Credentials.

Retries: ours (`cloudrun.retry.call` around a whole listing, `retry=None` to the SDK); errors through Google's one
error table (gcp_client.translate).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from cloudrun import retry
from cloudrun.errors import AuthError, CloudrunError
from cloudrun.pricing import shapes, validate
from cloudrun.pricing.shapes import Shape
from cloudrun.pricing.validate import FetchResult, PriceRow, Rejection

from .gcp_skus import FEE, ON_DEMAND, SPOT, SPOT_VM, UNITS, Part, compute_spot_part, normalise
from .gcp_skus import vertex_part as _vertex_part

VERTEX_SERVICE = "services/C7E2-9256-1C43"  # "Vertex AI" in list_services
COMPUTE_SERVICE = "services/6F81-5844-456A"  # "Compute Engine"
API_LABEL = "gcp cloud billing catalog"
API_KEY_ENV = "CLOUDRUN_GCP_API_KEY"
CREDENTIALS_HINT = f"set {API_KEY_ENV} to an API key, or run `gcloud auth application-default login`"
PAGE_SIZE = 5000
_CENT_FRACTION = Decimal("0.000001")

Table = dict[tuple[str, str, str, str], Part]  # (tariff, kind, name, region) -> the most specific part


def fetch(regions: Sequence[str] | None = None, *, client: Any = None, today: date | None = None) -> FetchResult:
    """Return the Vertex AI offers of the given regions (all priced regions when None), and the rejects."""
    client = client or default_client()
    known = shapes.for_provider("gcp")
    parts = _parts(client, VERTEX_SERVICE, _vertex_part) + _parts(client, COMPUTE_SERVICE, compute_spot_part)
    table, rejected = _index(parts)
    wanted = set(regions) if regions else {key[3] for key in table if key[:2] == (ON_DEMAND, "gpu")}
    rows, incomplete = _assemble(table, known.values(), wanted, (today or date.today()).isoformat())
    result = validate.check(rows, known)
    result.rejected[:0] = rejected + incomplete + _unknown_accelerators(parts, known.values(), wanted)
    return result


def default_client() -> Any:
    """Return a CloudCatalogClient (REST) with the API key from the environment, else ADC."""
    from google.api_core.client_options import ClientOptions
    from google.cloud import billing_v1

    key = os.environ.get(API_KEY_ENV)
    options = ClientOptions(api_key=key) if key else None
    try:
        return billing_v1.CloudCatalogClient(transport="rest", client_options=options)
    except Exception as exc:  # google.auth.exceptions.DefaultCredentialsError and friends
        message = f"no Google credentials for the Cloud Billing Catalog API: {exc}"
        raise AuthError(message, hint=CREDENTIALS_HINT) from exc


def _parts(client: Any, service: str, read: Callable[[Any], Part | None]) -> list[Part]:
    def listing() -> list[Part]:
        try:
            pager = client.list_skus(request={"parent": service, "page_size": PAGE_SIZE}, retry=None)
            return [part for sku in pager if (part := read(sku)) is not None]
        except CloudrunError:
            raise
        except Exception as exc:
            raise _translate(exc) from exc

    return retry.call(listing)


def _translate(exc: Exception) -> CloudrunError:
    """Return Google's error as the adapter's table reads it, with the price API's own credentials hint."""
    from .gcp_client import translate

    error = translate(exc, service=API_LABEL)
    error.message = f"{API_LABEL}: {error.message}"
    if isinstance(error, AuthError):
        error.hint = CREDENTIALS_HINT
    return error


def _index(parts: Iterable[Part]) -> tuple[Table, list[Rejection]]:
    """Return each (tariff, kind, name, region)'s part, a regional SKU before a multi-regional one."""
    table: Table = {}
    rejected: list[Rejection] = []
    for part in parts:
        if part.unit != UNITS[part.kind]:
            reason = f"sku {part.sku_id} is priced per {part.unit!r}, expected {UNITS[part.kind]!r}"
            rejected.append(Rejection("gcp", part.description, " ".join(part.regions), reason))
            continue
        for region in part.regions:
            key = (part.tariff, part.kind, part.name, region)
            if key not in table or len(part.regions) < len(table[key].regions):
                table[key] = part
    return table, rejected


def _assemble(table: Table, known: Iterable[Shape], regions: set[str], as_of: str) -> tuple[list[PriceRow], list]:
    """Return a row per machine type and region where its GPU is priced; a rejection where a part is missing."""
    rows: list[PriceRow] = []
    rejected: list[Rejection] = []
    for shape in known:
        for region in sorted(regions):
            on_demand = _parts_of(table, ON_DEMAND, shape, region)
            if on_demand is None:
                if (ON_DEMAND, "gpu", normalise(shape.accelerator), region) in table:
                    reason = f"no Vertex prediction core/RAM SKU for family {shape.machine_family} here"
                    rejected.append(Rejection("gcp", shape.instance_type, region, reason))
                continue
            spot_parts = _parts_of(table, SPOT, shape, region) or _spot_vm_parts(table, shape, region)
            source = f"{API_LABEL} Vertex AI prediction skus {'+'.join(p.sku_id for p in on_demand)}"
            if spot_parts:
                source += f"; spot skus {'+'.join(p.sku_id for p in spot_parts)}"
            spot = _node_price(spot_parts, shape) if spot_parts else None
            price = _node_price(on_demand, shape)
            rows.append(PriceRow("gcp", region, shape.instance_type, price, source, as_of, spot))
    return rows, rejected


def _parts_of(table: Table, tariff: str, shape: Shape, region: str) -> list[Part] | None:
    keys = [
        (tariff, "gpu", normalise(shape.accelerator), region),
        (tariff, "core", normalise(shape.machine_family), region),
        (tariff, "ram", normalise(shape.machine_family), region),
    ]
    found = [table.get(key) for key in keys]
    return [part for part in found if part is not None] if all(found) else None


def _spot_vm_parts(table: Table, shape: Shape, region: str) -> list[Part] | None:
    vm, fee = _parts_of(table, SPOT_VM, shape, region), _parts_of(table, FEE, shape, region)
    return vm + fee if vm and fee else None


def _node_price(parts: list[Part], shape: Shape) -> Decimal:
    quantity = {"gpu": Decimal(shape.gpu_count), "core": Decimal(shape.vcpus), "ram": shape.memory_gb}
    return sum((part.price * quantity[part.kind] for part in parts), Decimal(0)).quantize(_CENT_FRACTION)


def _unknown_accelerators(parts: Iterable[Part], known: Iterable[Shape], regions: set[str]) -> list[Rejection]:
    """Return a rejection per on-demand GPU SKU that no machine type in the shape table uses."""
    accelerators = {normalise(shape.accelerator) for shape in known}
    return [
        Rejection(
            "gcp",
            part.description,
            " ".join(sorted(regions.intersection(part.regions))),
            f"sku {part.sku_id}: no machine type in templates/gpu_shapes.csv uses this GPU (add its rows)",
        )
        for part in parts
        if part.tariff == ON_DEMAND
        and part.kind == "gpu"
        and part.name not in accelerators
        and regions.intersection(part.regions)
    ]
