"""The regions each provider has: a price, a catalog row, a --region flag or a placement in any other region is a
data error (a made-up name, or a look-alike in full-width Unicode that a cloud would be sent).

Read by the catalog loader (every row), `catalog refresh` (every fetched price) and the flag checks in cloudrun.inputs.
"""

from __future__ import annotations


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


# The regions each provider has (2026); a price for any other region is a data error.
REGIONS: dict[str, frozenset[str]] = {
    "aws": _names(
        "us-east-1 us-east-2 us-west-1 us-west-2 ca-central-1 ca-west-1 mx-central-1 sa-east-1 eu-west-1 "
        "eu-west-2 eu-west-3 eu-central-1 eu-central-2 eu-north-1 eu-south-1 eu-south-2 il-central-1 "
        "me-south-1 me-central-1 af-south-1 ap-east-1 ap-east-2 ap-south-1 ap-south-2 ap-southeast-1 "
        "ap-southeast-2 ap-southeast-3 ap-southeast-4 ap-southeast-5 ap-southeast-7 ap-northeast-1 "
        "ap-northeast-2 ap-northeast-3 us-gov-west-1 us-gov-east-1"
    ),
    "gcp": _names(
        "us-central1 us-east1 us-east4 us-east5 us-south1 us-west1 us-west2 us-west3 us-west4 "
        "northamerica-northeast1 northamerica-northeast2 northamerica-south1 southamerica-east1 "
        "southamerica-west1 europe-west1 europe-west2 europe-west3 europe-west4 europe-west6 europe-west8 "
        "europe-west9 europe-west10 europe-west12 europe-north1 europe-north2 europe-central2 "
        "europe-southwest1 me-west1 me-central1 me-central2 africa-south1 asia-east1 asia-east2 "
        "asia-northeast1 asia-northeast2 asia-northeast3 asia-south1 asia-south2 asia-southeast1 "
        "asia-southeast2 australia-southeast1 australia-southeast2"
    ),
    "azure": _names(
        "eastus eastus2 westus westus2 westus3 centralus northcentralus southcentralus westcentralus "
        "canadacentral canadaeast brazilsouth brazilsoutheast mexicocentral northeurope westeurope uksouth "
        "ukwest francecentral francesouth germanywestcentral germanynorth switzerlandnorth switzerlandwest "
        "norwayeast norwaywest swedencentral swedensouth polandcentral italynorth spaincentral israelcentral "
        "qatarcentral uaenorth uaecentral southafricanorth southafricawest centralindia southindia westindia "
        "jioindiawest jioindiacentral eastasia southeastasia japaneast japanwest koreacentral koreasouth "
        "australiaeast australiasoutheast australiacentral australiacentral2 newzealandnorth indonesiacentral "
        "malaysiawest chilecentral usgovvirginia usgovarizona usgovtexas"
    ),
}
