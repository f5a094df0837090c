"""Azure ML managed online endpoint prices from the Azure Retail Prices REST API (no authentication).

Azure ML managed online endpoints bill the plain VM meter, so the prices are the Linux pay-as-you-go
meters of `serviceName eq 'Virtual Machines'`, `priceType eq 'Consumption'`, for the GPU sizes in the
shape table. Filter values are case-sensitive (API 2023-01-01-preview and later). An answer holds `Items`
(armSkuName, armRegionName, retailPrice, unitOfMeasure "1 Hour", type, meterId, meterName, productName)
and a `NextPageLink` to follow until it is null. Spot and Low Priority meters are skipped: managed
online endpoints cannot use them. Windows meters are skipped: the serving container runs on Linux.

HTTP: urllib from the standard library (no SDK needed). Retries: ours (`cloudrun.retry.call`); an error answer is
read by Azure's one error table (azure_client.translate), which needs no SDK for it.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from cloudrun import retry
from cloudrun.errors import CloudrunError, InvalidInput, Transient
from cloudrun.pricing import shapes, validate
from cloudrun.pricing.validate import FetchResult, PriceRow

from .azure_client import ArmRestError, translate

PRICES_URL = "https://prices.azure.com/api/retail/prices"
API_VERSION = "2023-01-01-preview"
API_LABEL = "azure retail prices API"
MAX_PAGES = 500  # a NextPageLink loop must end; the GPU VM meters fit in a few pages
TIMEOUT_S = 30.0


def fetch(
    regions: Sequence[str] | None = None,
    *,
    opener: urllib.request.OpenerDirector | None = None,
    today: date | None = None,
) -> FetchResult:
    """Return the Azure ML offers of the given regions (all when None), validated, and the rejects."""
    known = shapes.for_provider("azure")
    as_of = (today or date.today()).isoformat()
    rows: list[PriceRow] = []
    skipped = 0
    for item in _items(first_page_url(sorted(known), regions), opener or urllib.request.build_opener()):
        if not _is_linux_on_demand(item):
            skipped += 1
            continue
        rows.append(_to_row(item, as_of))
    result = validate.check(rows, known)
    result.skipped = skipped
    return result


def first_page_url(skus: Iterable[str], regions: Sequence[str] | None) -> str:
    """Return the URL of the first page: Linux and Windows VM meters of these sizes (and regions)."""
    clauses = ["serviceName eq 'Virtual Machines'", "priceType eq 'Consumption'", _any_of("armSkuName", skus)]
    if regions:
        clauses.append(_any_of("armRegionName", regions))
    parameters = {"api-version": API_VERSION, "$filter": " and ".join(clauses)}
    query = urllib.parse.urlencode(parameters, safe="$'", quote_via=urllib.parse.quote)
    return f"{PRICES_URL}?{query}"


def _any_of(field: str, values: Iterable[str]) -> str:
    return "(" + " or ".join(f"{field} eq '{value}'" for value in values) + ")"


def _items(url: str, opener: urllib.request.OpenerDirector) -> Iterator[dict[str, Any]]:
    """Yield every item of every page, following NextPageLink."""
    next_url: str | None = url
    for _ in range(MAX_PAGES):
        if not next_url:
            return
        page = retry.call(_get_json, opener, next_url)
        yield from page.get("Items") or []
        next_url = page.get("NextPageLink")
    raise CloudrunError(f"{API_LABEL}: more than {MAX_PAGES} pages; stopped following NextPageLink")


def _get_json(opener: urllib.request.OpenerDirector, url: str) -> dict[str, Any]:
    try:
        with opener.open(url, timeout=TIMEOUT_S) as response:
            return json.loads(response.read().decode("utf-8"), parse_float=Decimal)
    except urllib.error.HTTPError as exc:
        raise _translate(exc) from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, socket.gaierror):  # no name resolution: offline, and retrying will not help
            raise CloudrunError(f"cannot resolve {urllib.parse.urlsplit(PRICES_URL).hostname}: offline?") from exc
        raise Transient(f"could not reach {PRICES_URL}: {exc}") from exc
    except (TimeoutError, ConnectionError) as exc:
        raise Transient(f"could not reach {PRICES_URL}: {exc}") from exc
    except ValueError as exc:
        raise Transient(f"{API_LABEL} answered with something that is not JSON: {exc}") from exc


def _translate(exc: urllib.error.HTTPError) -> CloudrunError:
    retry_after = exc.headers.get("Retry-After") if exc.headers else None
    error = translate(ArmRestError(exc.code, "", str(exc.reason), retry_after))
    error.message = f"{API_LABEL} answered HTTP {exc.code}: {error.message}"
    if isinstance(error, InvalidInput):
        error.hint = "the $filter may be malformed; values are case-sensitive"
    return error


def _is_linux_on_demand(item: dict[str, Any]) -> bool:
    """Return whether an item is a Linux pay-as-you-go hourly meter (not Windows, Spot or Low Priority)."""
    meter = item.get("meterName", "")
    return (
        item.get("type") == "Consumption"
        and item.get("unitOfMeasure") == "1 Hour"
        and item.get("currencyCode", "USD") == "USD"
        and "Windows" not in item.get("productName", "")
        and "Spot" not in meter
        and "Low Priority" not in meter
        and item.get("isPrimaryMeterRegion", True) is not False
    )


def _to_row(item: dict[str, Any], as_of: str) -> PriceRow:
    price = item.get("retailPrice")
    effective = str(item.get("effectiveStartDate", ""))[:10]
    return PriceRow(
        provider="azure",
        region=item.get("armRegionName", ""),
        instance_type=item.get("armSkuName", ""),
        price_per_hour_usd=Decimal(str(price)) if price is not None else None,
        source=(
            f"{API_LABEL} meter {item.get('meterId', '?')} ({item.get('productName', '')}, "
            f"{item.get('meterName', '')}, effective {effective}); Azure ML bills the VM meter"
        ),
        as_of=as_of,
    )
