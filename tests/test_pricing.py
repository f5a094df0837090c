"""`catalog refresh`'s three price fetchers against recorded API answers, and the validation of what they fetch
(the cache, the planner's choice of it and the commands: tests/test_price_cache.py).

Fakes sit at the wire or at the injected client: botocore's Stubber on a real `pricing` client, a urllib
handler serving the Azure Retail Prices pages, and `responses` under the real CloudCatalogClient's REST
transport. Sockets stay disabled (pytest-socket): nothing here can reach a real cloud.
"""

from __future__ import annotations

import io
import urllib.parse
import urllib.request
import urllib.response
from decimal import Decimal
from email.message import Message

import pytest
import responses
from botocore.stub import Stubber

from cloudrun import catalog
from cloudrun.errors import AuthError
from cloudrun.pricing import shapes, validate
from cloudrun.pricing.validate import FetchResult
from cloudrun.providers import aws_prices as aws
from cloudrun.providers import azure_prices as azure
from cloudrun.providers import gcp_prices as gcp
from tests.pricing_fixtures import DATA, TODAY, price_row, pricing_client, recorded


def _by_key(result: FetchResult) -> dict[tuple[str, str], object]:
    return {(offer.region, offer.instance_type): offer for offer in result.offers}


def _reasons(result: FetchResult) -> dict[tuple[str, str], str]:
    return {(r.instance_type, r.region): r.reason for r in result.rejected}


# --- the shape table --------------------------------------------------------------------------------


def test_shape_table_covers_every_instance_in_the_bundled_snapshot_and_agrees_with_it():
    table = shapes.shapes()
    for offer in catalog.bundled():
        shape = table[(offer.provider, offer.instance_type)]
        assert (shape.gpu_model, shape.gpu_count, shape.gpu_memory_gb) == (
            offer.gpu_model,
            offer.gpu_count,
            offer.gpu_memory_gb,
        )
        assert (shape.vcpus, shape.memory_gb) == (offer.vcpus, offer.memory_gb)
    assert all(s.machine_family and s.accelerator for s in shapes.for_provider("gcp").values())


# --- AWS: Price List get_products through botocore's Stubber -----------------------------------------


HOSTING_FILTERS = [
    {"Type": "TERM_MATCH", "Field": "productFamily", "Value": "ML Instance"},
    {"Type": "TERM_MATCH", "Field": "component", "Value": "Hosting"},
]


def _aws_fetch(client, regions=None):
    made = []

    def factory(service, region):
        made.append((service, region))
        return client

    result = aws.fetch(regions, client_factory=factory, today=TODAY)
    assert made == [("pricing", "us-east-1")]  # the Price List API lives in us-east-1 (or ap-south-1) only
    return result


def test_aws_reads_hosting_prices_across_pages_and_rejects_bad_rows():
    client = pricing_client()
    with Stubber(client) as stub:
        base = {"ServiceCode": "AmazonSageMaker", "Filters": HOSTING_FILTERS, "FormatVersion": "aws_v1"}
        stub.add_response("get_products", recorded("aws_get_products_page1.json"), base)
        stub.add_response(
            "get_products", recorded("aws_get_products_page2.json"), {**base, "NextToken": "eyJwYWdlIjoyfQ=="}
        )
        result = _aws_fetch(client)
        stub.assert_no_pending_responses()
    offers = _by_key(result)
    assert offers[("us-east-1", "ml.g5.12xlarge")].price_per_hour_usd == Decimal("7.09")
    assert offers[("us-east-1", "ml.p5.48xlarge")].gpu_count == 8
    assert offers[("eu-west-1", "ml.g5.xlarge")].price_per_hour_usd == Decimal("1.5718")
    g5 = offers[("us-east-1", "ml.g5.xlarge")]
    assert g5.as_of == "2026-12-01" and "sku 4R2YF9N6VWJZQ7TA" in g5.source and "USE1-Host:ml.g5.xlarge" in g5.source
    assert g5.spot_price_per_hour_usd is None
    reasons = _reasons(result)
    assert "unknown instance type" in reasons[("ml.g7e.2xlarge", "us-east-1")]  # new SKU: reported, not guessed
    assert "12 GPUs" in reasons[("ml.g5.48xlarge", "us-east-1")]
    assert "zero" in reasons[("ml.g6.xlarge", "us-east-1")]
    assert result.skipped == 1  # ml.m5.large: no GPU, neither kept nor reported


def test_aws_filters_by_region_code_when_regions_are_given():
    client = pricing_client()
    with Stubber(client) as stub:
        filters = [*HOSTING_FILTERS, {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"}]
        page = recorded("aws_get_products_page1.json")
        page.pop("NextToken")
        stub.add_response(
            "get_products", page, {"ServiceCode": "AmazonSageMaker", "Filters": filters, "FormatVersion": "aws_v1"}
        )
        result = _aws_fetch(client, ["us-east-1"])
    assert {offer.instance_type for offer in result.offers} == {"ml.g5.12xlarge", "ml.g5.xlarge"}


def test_aws_access_denied_is_an_auth_error():
    client = pricing_client()
    with Stubber(client) as stub:
        stub.add_client_error("get_products", "AccessDeniedException", "not allowed pricing:GetProducts", 400)
        with pytest.raises(AuthError):
            _aws_fetch(client)


# --- Azure: Retail Prices REST through urllib, pages served by a handler ----------------------------


class RecordedPrices(urllib.request.BaseHandler):
    """Serves recorded Retail Prices pages to urllib: page 2 for a URL with $skip, else page 1."""

    handler_order = 100  # before urllib's own HTTPSHandler, which would open a socket

    def __init__(self, status: int = 200) -> None:
        self.urls: list[str] = []
        self.status = status

    def https_open(self, request: urllib.request.Request) -> urllib.response.addinfourl:
        self.urls.append(request.full_url)
        page = "azure_retail_prices_page2.json" if "$skip=" in request.full_url else "azure_retail_prices_page1.json"
        body = (DATA / page).read_bytes() if self.status == 200 else b'{"error": "nope"}'
        response = urllib.response.addinfourl(io.BytesIO(body), Message(), request.full_url, self.status)
        response.msg = "OK" if self.status == 200 else "Bad Request"
        return response


def test_azure_follows_next_page_link_and_keeps_linux_pay_as_you_go_only():
    handler = RecordedPrices()
    result = azure.fetch(opener=urllib.request.build_opener(handler), today=TODAY)
    assert len(handler.urls) == 2 and "$skip=100" in handler.urls[1]
    offers = _by_key(result)
    assert set(offers) == {
        ("eastus", "Standard_NC24ads_A100_v4"),
        ("eastus", "Standard_ND96isr_H100_v5"),
        ("westeurope", "Standard_NC24ads_A100_v4"),
    }
    a100 = offers[("eastus", "Standard_NC24ads_A100_v4")]
    assert a100.price_per_hour_usd == Decimal("3.673")  # not the Spot, Windows or DevTest meter
    assert a100.spot_price_per_hour_usd is None and a100.service == "azureml"
    assert "meter 0b3c2f5e-8a1d-5f43-9c1e-2f6b7a1d9e01" in a100.source
    assert offers[("eastus", "Standard_ND96isr_H100_v5")].gpu_count == 8  # from the shape table
    reasons = _reasons(result)
    assert "zero" in reasons[("Standard_NC40ads_H100_v5", "eastus")]
    assert "unknown region 'eastus2euap'" in reasons[("Standard_NC24ads_A100_v4", "eastus2euap")]
    assert result.skipped == 4  # Spot, Windows, DevTestConsumption, Low Priority


def test_azure_filter_is_case_exact_and_names_the_shape_tables_skus_and_regions():
    handler = RecordedPrices()
    azure.fetch(["eastus", "westeurope"], opener=urllib.request.build_opener(handler), today=TODAY)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(handler.urls[0]).query)
    assert query["api-version"] == ["2023-01-01-preview"]
    text = query["$filter"][0]
    assert text.startswith("serviceName eq 'Virtual Machines' and priceType eq 'Consumption' and (")
    assert "armSkuName eq 'Standard_ND96isr_H100_v5'" in text and "armSkuName eq 'Standard_NC4as_T4_v3'" in text
    assert text.endswith("(armRegionName eq 'eastus' or armRegionName eq 'westeurope')")


def test_azure_http_error_is_reported_not_retried_when_not_transient():
    handler = RecordedPrices(status=400)
    with pytest.raises(Exception, match="HTTP 400"):
        azure.fetch(opener=urllib.request.build_opener(handler), today=TODAY)
    assert len(handler.urls) == 1


# --- Google: the real CloudCatalogClient (REST) over `responses` -------------------------------------

ENDPOINT = "https://cloudbilling.test"


def _catalog_client():
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import billing_v1

    return billing_v1.CloudCatalogClient(
        credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": ENDPOINT}
    )


def _serve_skus(requests_seen: list[str]) -> None:
    def vertex(request):
        requests_seen.append(request.url)
        token = urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query).get("pageToken")
        page = "gcp_vertex_skus_page2.json" if token == ["CAESBggBEgIyMQ"] else "gcp_vertex_skus_page1.json"
        return 200, {"Content-Type": "application/json"}, (DATA / page).read_text()

    def compute(request):
        requests_seen.append(request.url)
        return 200, {"Content-Type": "application/json"}, (DATA / "gcp_compute_skus.json").read_text()

    responses.add_callback(responses.GET, f"{ENDPOINT}/v1/services/C7E2-9256-1C43/skus", callback=vertex)
    responses.add_callback(responses.GET, f"{ENDPOINT}/v1/services/6F81-5844-456A/skus", callback=compute)


@responses.activate
def test_gcp_sums_gpu_core_and_ram_parts_per_region_and_adds_spot():
    seen: list[str] = []
    _serve_skus(seen)
    result = gcp.fetch(client=_catalog_client(), today=TODAY)
    assert len(seen) == 3 and all("pageSize=5000" in url for url in seen)  # two Vertex pages, one Compute Engine
    offers = _by_key(result)
    h100 = offers[("us-central1", "a3-highgpu-1g")]
    # 1 x 11.2660332 GPU + 26 x 0.0293227 vCPU + 234 x 0.0025534 GiB (the SKU unit prices)
    assert h100.price_per_hour_usd == Decimal("12.625919")
    # spot: Compute Engine spot parts + the Vertex management fee, per unit
    assert h100.spot_price_per_hour_usd == Decimal("4.343030")
    assert "AE9C-DB60-DF46+A002-4323-D900+2424-9F04-82A8" in h100.source and "1797-967A-274D" in h100.source
    assert offers[("us-central1", "a3-highgpu-8g")].price_per_hour_usd == Decimal("101.007352")
    # g2 in Virginia uses the regional L4 SKU over the Americas one; no G2 spot parts: no spot price
    g2_east4, g2_central = offers[("us-east4", "g2-standard-4")], offers[("us-central1", "g2-standard-4")]
    assert g2_east4.price_per_hour_usd == Decimal("0.7010") + 4 * Decimal("0.0254034") + 16 * Decimal("0.0029764")
    assert g2_central.price_per_hour_usd < g2_east4.price_per_hour_usd
    assert g2_central.spot_price_per_hour_usd is None
    assert ("us-east4", "a3-highgpu-1g") not in offers  # no H100 prediction SKU there
    # the H200 GPU SKU is a3-ultragpu-8g's; without an "A3 Ultra Instance Core/RAM" SKU its price is incomplete
    (ultra,) = [r for r in result.rejected if r.instance_type == "a3-ultragpu-8g"]
    assert "core/RAM SKU for family A3 Ultra" in ultra.reason and ultra.region == "us-central1"


@responses.activate
def test_gcp_region_filter_and_server_error_translation():
    _serve_skus([])
    result = gcp.fetch(["us-east4"], client=_catalog_client(), today=TODAY)
    assert {offer.region for offer in result.offers} == {"us-east4"}
    responses.reset()
    responses.add(responses.GET, f"{ENDPOINT}/v1/services/C7E2-9256-1C43/skus", status=403, json={"error": {}})
    with pytest.raises(AuthError):
        gcp.fetch(client=_catalog_client(), today=TODAY)


# --- validation: the SkyPilot data quirks --------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (price_row("gcp", "us-central1", "a3-highgpu-8g", "0.0", "0.0"), "zero"),  # a4-highgpu-8g host rows: 0.0
        (price_row("gcp", "us-central1", "a2-ultragpu-1g", "700.0"), "placeholder"),  # TPU rows: 700.0
        (price_row("gcp", "europe-west4", "a2-ultragpu-8g", "36.60258", "41.0128"), "above the on-demand"),
        (price_row("azure", "eastus", "Standard_ND96isr_H100_v5", "98.32", gpus=12), "12 GPUs"),
        (price_row("azure", "usgovfoo", "Standard_NC24ads_A100_v4", "3.673"), "unknown region"),
        (price_row("aws", "us-east-1", "ml.g7e.2xlarge", "4.2"), "unknown instance type"),
        (price_row("aws", "us-east-1", "ml.g5.xlarge", "900"), "absurd"),
        (price_row("azure", "eastus", "Standard_NC24ads_A100_v4", "3.673", "3.0"), "no spot capacity"),
        (price_row("aws", "us-east-1", "ml.g5.xlarge", None), "missing"),
    ],
)
def test_validation_rejects_the_known_data_quirks(row, reason):
    result = validate.check([row], shapes.for_provider(row.provider))
    assert not result.offers
    (rejection,) = result.rejected
    assert reason in rejection.reason
    assert (rejection.provider, rejection.instance_type, rejection.region) == (
        row.provider,
        row.instance_type,
        row.region,
    )


def test_validation_keeps_good_rows_with_the_shape_tables_gpus():
    rows = [
        price_row("gcp", "us-central1", "a3-highgpu-8g", "101.0", "40.7"),
        price_row("gcp", "us-central1", "a3-highgpu-8g", "5"),
    ]
    result = validate.check(rows, shapes.for_provider("gcp"))
    (offer,) = result.offers
    assert (offer.gpu_model, offer.gpu_count, offer.spot_price_per_hour_usd) == ("H100", 8, Decimal("40.7"))
    assert "twice" in result.rejected[0].reason
