"""A stand-in for the AWS Price List Query API on loopback, for the cost tests only.

STAND-IN DATA: every price here is made up for the tests (round, synthetic numbers that grow
with size so comparisons mean something). None is an AWS price, and nothing here may be
copied into a committed price table. `prices refresh` is pointed at this server with
AWS_ENDPOINT_URL_PRICING; the table it writes records the loopback endpoint it came from.

The protocol is the one botocore speaks for `pricing` (its service model: AWS JSON 1.1,
target prefix `AWSPriceListService`): a POST to `/` with `X-Amz-Target:
AWSPriceListService.GetProducts` and a JSON body {ServiceCode, Filters, FormatVersion,
NextToken, MaxResults}; the answer is {FormatVersion, PriceList, NextToken}, each PriceList
entry one product as a JSON *string*. Products have the shape of AWS's own example answers
(botocore data/pricing/2017-10-15/examples-1.json; aws/aws-cli
awscli/examples/pricing/get-products.rst): `product` {productFamily, attributes, sku},
`serviceCode`, `terms.OnDemand.<sku>.<offerTermCode>` {priceDimensions {<rateCode> {unit,
beginRange, endRange, description, appliesTo, rateCode, pricePerUnit {USD: "0.1380000000"}}},
sku, effectiveDate, offerTermCode, termAttributes}, `version`, `publicationDate`.

Attribute names and usage types follow the sources cited in airflow_platform/cost/items.py;
for the items marked unverified there (MWAA, EKS Auto Mode, Scheduler, Performance Insights
units) the stand-in products carry the attributes the items assume, so these tests prove the
selection logic, not those assumptions. Decoys (a regional NAT gateway's hours, an idle IPv4
address, Lambda's location-less products, a $0 free tier below a paid one, the same backup
price under two SKUs) check that the selection takes exactly the product it should.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TERM = "JRTCKXETXF"  # the OnDemand offer term code of AWS's example answers
DIMENSION = "6YS6EN2CT7"
# Region: (usage-type prefix, location name). us-east-1 products carry no prefix for some
# services (NatGateway-Hours), USE1- for others, as the Price List does.
REGIONS = {
    "eu-west-1": ("EU", "EU (Ireland)"),
    "us-east-1": ("USE1", "US East (N. Virginia)"),
    "eu-central-1": ("EUC1", "EU (Frankfurt)"),
}
RDS_SIZES = {"micro": 1, "small": 2, "medium": 4, "large": 8, "xlarge": 16, "2xlarge": 32}
RDS_FAMILIES = {"t4g": (1.0, 2), "m7g": (2.0, 2), "r7g": (2.5, 2)}  # (price factor, vCPU/size)
MWAA_SIZES = {"micro": 1, "small": 2, "medium": 4, "large": 8, "xlarge": 16, "2xlarge": 32}
EC2_TYPES = {"m7i.large": 1, "m7i.xlarge": 2, "m7i.2xlarge": 4, "c7i.xlarge": 2}


def _sku(*parts: str) -> str:
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest().upper()
    return "".join(c for c in digest if c.isalnum())[:16]


@dataclass
class Catalog:
    """The products the stand-in serves."""

    products: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self,
        service: str,
        region: str | None,
        family: str,
        attributes: dict[str, str],
        tiers: list[tuple[float, str]],
        unit: str,
    ) -> None:
        """One product: `tiers` is [(beginRange, USD)], ascending; `region` None for a
        product with no region (a global one)."""
        attrs = {"servicecode": service, "servicename": f"{service} (stand-in)", **attributes}
        if region is not None:
            location = REGIONS[region][1]
            attrs.update(regionCode=region, location=location, locationType="AWS Region")
        else:
            attrs.update(location="Any", locationType="Other")
        sku = _sku(service, str(region), family, json.dumps(attrs, sort_keys=True))
        dimensions = {}
        for index, (begin, usd) in enumerate(tiers):
            end = tiers[index + 1][0] if index + 1 < len(tiers) else "Inf"
            rate = f"{sku}.{TERM}.{DIMENSION}{index}"
            dimensions[rate] = {
                "unit": unit,
                "endRange": str(end if end == "Inf" else int(end)),
                "description": f"STAND-IN ${usd} per {unit} ({attrs.get('usagetype', family)})",
                "appliesTo": [],
                "rateCode": rate,
                "beginRange": str(int(begin)),
                "pricePerUnit": {"USD": f"{float(usd):.10f}"},
            }
        self.products.append(
            {
                "product": {"productFamily": family, "attributes": attrs, "sku": sku},
                "serviceCode": service,
                "terms": {
                    "OnDemand": {
                        f"{sku}.{TERM}": {
                            "priceDimensions": dimensions,
                            "sku": sku,
                            "effectiveDate": "2026-01-01T00:00:00Z",
                            "offerTermCode": TERM,
                            "termAttributes": {},
                        }
                    }
                },
                "version": "20260101000000",
                "publicationDate": "2026-01-01T00:00:00Z",
            }
        )

    def matching(self, service: str, filters: list[dict[str, str]]) -> list[dict[str, Any]]:
        """TERM_MATCH: every filter's field equals its value (ServiceCode, productFamily or
        an attribute)."""
        found = []
        for product in self.products:
            if product["serviceCode"] != service:
                continue
            fields = {
                "ServiceCode": product["serviceCode"],
                "productFamily": product["product"]["productFamily"],
                **product["product"]["attributes"],
            }
            if all(fields.get(f["Field"]) == f["Value"] for f in filters):
                found.append(product)
        return found


def _usage(region: str, name: str, short: bool = True) -> str:
    """A usage type with its region prefix (`EU-NatGateway-Hours`); `short` False gives the
    region-code form KMS uses (`eu-west-1-KMS-Keys`)."""
    return f"{REGIONS[region][0] if short else region}-{name}"


def standard_catalog(regions: tuple[str, ...] = ("eu-west-1", "us-east-1")) -> Catalog:
    """Every product the price items look for, in `regions`, plus decoys. STAND-IN prices."""
    c = Catalog()
    for region in regions:
        _network(c, region)
        _database(c, region)
        _compute(c, region)
        _monitoring(c, region)
        _messaging(c, region)
        _storage(c, region)
    # One dashboard price for every region, with no region of its own.
    c.add(
        "AmazonCloudWatch",
        None,
        "Dashboard",
        {"usagetype": "DashboardsUsageHour"},
        [(0, 3.0)],
        "Dashboards",
    )
    return c


def _network(c: Catalog, region: str) -> None:
    nat_hours = "NatGateway-Hours" if region == "us-east-1" else _usage(region, "NatGateway-Hours")
    c.add("AmazonEC2", region, "NAT Gateway", {"usagetype": nat_hours}, [(0, 0.05)], "Hrs")
    # Decoy: another product whose usage type ends the same way.
    c.add(
        "AmazonEC2",
        region,
        "NAT Gateway",
        {"usagetype": _usage(region, "RegionalNatGateway-Hours")},
        [(0, 0.9)],
        "Hrs",
    )
    c.add(
        "AmazonEC2",
        region,
        "NAT Gateway",
        {"usagetype": _usage(region, "NatGateway-Bytes")},
        [(0, 0.05)],
        "GB",
    )
    for name, usd in (("PublicIPv4:InUseAddress", 0.005), ("PublicIPv4:IdleAddress", 0.9)):
        c.add("AmazonVPC", region, "", {"usagetype": _usage(region, name)}, [(0, usd)], "Hrs")
    c.add(
        "AmazonVPC",
        region,
        "VpcEndpoint",
        {"usagetype": _usage(region, "VpcEndpoint-Hours")},
        [(0, 0.01)],
        "Hrs",
    )
    c.add(
        "AmazonVPC",
        region,
        "VpcEndpoint",
        {"usagetype": _usage(region, "VpcEndpoint-Bytes")},
        [(0, 0.01)],
        "GB",
    )
    c.add(
        "AWSELB",
        region,
        "Load Balancer-Network",
        {"usagetype": _usage(region, "LoadBalancerUsage")},
        [(0, 0.02)],
        "Hrs",
    )
    c.add(
        "AWSELB",
        region,
        "Load Balancer-Network",
        {"usagetype": _usage(region, "LCUUsage")},
        [(0, 0.006)],
        "LCU-Hrs",
    )


def _database(c: Catalog, region: str) -> None:
    for family, (factor, vcpu_per_size) in RDS_FAMILIES.items():
        for size, scale in RDS_SIZES.items():
            cls = f"db.{family}.{size}"
            if family != "t4g" and size in ("micro", "small", "medium"):
                continue
            for option, usage, multiplier in (
                ("Single-AZ", "InstanceUsage", 1),
                ("Multi-AZ", "Multi-AZUsage", 2),
            ):
                c.add(
                    "AmazonRDS",
                    region,
                    "Database Instance",
                    {
                        "instanceType": cls,
                        "databaseEngine": "PostgreSQL",
                        "deploymentOption": option,
                        "usagetype": _usage(region, f"{usage}:{cls}"),
                        "vcpu": str(max(2, scale // 4 * vcpu_per_size)),
                    },
                    [(0, round(0.01 * scale * factor * multiplier, 4))],
                    "Hrs",
                )
            # Decoy: readable standbys are another deployment option, never asked for.
            c.add(
                "AmazonRDS",
                region,
                "Database Instance",
                {
                    "instanceType": cls,
                    "databaseEngine": "PostgreSQL",
                    "deploymentOption": "Multi-AZ (readable standbys)",
                    "usagetype": _usage(region, f"Multi-AZClusterUsage:{cls}"),
                    "vcpu": "2",
                },
                [(0, 9.0)],
                "Hrs",
            )
        c.add(
            "AmazonRDS",
            region,
            "Performance Insights",
            {"usagetype": _usage(region, f"PI_LTR:{family.upper()}")},
            [(0, 2.0)],
            "vCPU-Months",
        )
    for option, usage, usd in (
        ("Single-AZ", "RDS:GP3-Storage", 0.1),
        ("Multi-AZ", "RDS:Multi-AZ-GP3-Storage", 0.2),
    ):
        c.add(
            "AmazonRDS",
            region,
            "Database Storage",
            {
                "volumeType": "General Purpose-GP3",
                "databaseEngine": "Any",
                "deploymentOption": option,
                "usagetype": _usage(region, usage),
            },
            [(0, usd)],
            "GB-Mo",
        )
    # The same backup price under two SKUs (one per engine code), as the Price List has it.
    for engine_code in ("14", "21"):
        c.add(
            "AmazonRDS",
            region,
            "Storage Snapshot",
            {
                "databaseEngine": "Any",
                "engineCode": engine_code,
                "usagetype": _usage(region, "RDS:ChargedBackupUsage"),
            },
            [(0, 0.1)],
            "GB-Mo",
        )


def _compute(c: Catalog, region: str) -> None:
    for size, scale in MWAA_SIZES.items():
        for kind, share in (("Environment", 0.1), ("Worker", 0.02), ("Scheduler", 0.02)):
            c.add(
                "AmazonMWAA",
                region,
                "Managed Workflows for Apache Airflow",
                {
                    "size": size.capitalize(),
                    "type": kind,
                    "usagetype": _usage(region, f"Airflow-{kind}Hours:{size}"),
                },
                [(0, round(share * scale, 4))],
                "Hrs",
            )
    c.add(
        "AmazonEKS",
        region,
        "Compute",
        {"usagetype": _usage(region, "AmazonEKS-Hours:perCluster")},
        [(0, 0.1)],
        "Hrs",
    )
    for instance_type, scale in EC2_TYPES.items():
        c.add(
            "AmazonEC2",
            region,
            "Compute Instance",
            {
                "instanceType": instance_type,
                "operatingSystem": "Linux",
                "tenancy": "Shared",
                "preInstalledSw": "NA",
                "capacitystatus": "Used",
                "licenseModel": "No License required",
                "usagetype": _usage(region, f"BoxUsage:{instance_type}"),
            },
            [(0, 0.1 * scale)],
            "Hrs",
        )
        c.add(
            "AmazonEKS",
            region,
            "EKS Auto Mode",
            {
                "instanceType": instance_type,
                "usagetype": _usage(region, f"AutoMode-Usage:{instance_type}"),
            },
            [(0, 0.012 * scale)],
            "Hrs",
        )
    for arch_suffix in ("", "-ARM"):
        for group, unit, usd in (
            ("Requests", "Requests", 0.0000002),
            ("Duration", "Lambda-GB-Second", 0.00001),
        ):
            c.add(
                "AWSLambda",
                region,
                "Serverless",
                {
                    "group": f"AWS-Lambda-{group}{arch_suffix}",
                    "usagetype": _usage(region, f"Lambda-{group}{arch_suffix}"),
                },
                [(0, usd)],
                unit,
            )
    for group in ("AWS-Lambda-Requests-ARM", "AWS-Lambda-Duration-ARM"):
        # Decoy: the location-less copy (the free tier's), which a regionCode filter skips.
        c.add(
            "AWSLambda",
            None,
            "Serverless",
            {"group": group, "usagetype": "Global-Free"},
            [(0, 0.5)],
            "Requests",
        )
    c.add(
        "AWSEvents",
        region,
        "EventBridge Scheduler",
        {"usagetype": _usage(region, "Scheduler-Invocation")},
        [(0, 0.0), (14_000_000, 0.000001)],
        "Invocations",
    )


def _monitoring(c: Catalog, region: str) -> None:
    c.add(
        "AmazonCloudWatch",
        region,
        "Alarm",
        {"alarmType": "Standard", "usagetype": _usage(region, "CW:AlarmMonitorUsage")},
        [(0, 0.1)],
        "Alarms",
    )
    c.add(
        "AmazonCloudWatch",
        region,
        "Data Payload",
        {"usagetype": _usage(region, "DataProcessing-Bytes")},
        [(0, 0.5)],
        "GB",
    )
    c.add(
        "AmazonCloudWatch",
        region,
        "Data Payload",
        {"usagetype": _usage(region, "VendedLog-Bytes")},
        [(0, 0.5), (10_240, 0.25)],
        "GB",
    )
    c.add(
        "AmazonCloudWatch",
        region,
        "Storage Snapshot",
        {"usagetype": _usage(region, "TimedStorage-ByteHrs")},
        [(0, 0.03)],
        "GB-Mo",
    )
    c.add(
        "awskms",
        region,
        "Encryption Key",
        {"usagetype": _usage(region, "KMS-Keys", short=False)},
        [(0, 1.0)],
        "Keys",
    )
    c.add(
        "awskms",
        region,
        "API Request",
        {"usagetype": _usage(region, "KMS-Requests", short=False)},
        [(0, 0.0), (20_000, 0.000003)],
        "Requests",
    )


def _messaging(c: Catalog, region: str) -> None:
    c.add(
        "AWSSecretsManager",
        region,
        "Secret",
        {"usagetype": _usage(region, "AWSSecretsManager-Secrets")},
        [(0, 0.4)],
        "Secrets",
    )
    c.add(
        "AWSSecretsManager",
        region,
        "API Request",
        {"usagetype": _usage(region, "AWSSecretsManager-APIRequest")},
        [(0, 0.000005)],
        "API Requests",
    )
    c.add(
        "AmazonSNS",
        region,
        "API Request",
        {"usagetype": _usage(region, "Requests-Tier1")},
        [(0, 0.0), (1_000_000, 0.0000005)],
        "Requests",
    )
    c.add(
        "AWSQueueService",
        region,
        "API Request",
        {"queueType": "Standard", "usagetype": _usage(region, "Requests-Tier1")},
        [(0, 0.0), (1_000_000, 0.0000004)],
        "Requests",
    )


def _storage(c: Catalog, region: str) -> None:
    c.add(
        "AmazonECR",
        region,
        "EC2 Container Registry",
        {"usagetype": _usage(region, "TimedStorage-ByteHrs")},
        [(0, 0.1)],
        "GB-Mo",
    )
    c.add(
        "AmazonS3",
        region,
        "Storage",
        {"volumeType": "Standard", "usagetype": _usage(region, "TimedStorage-ByteHrs")},
        [(0, 0.023), (51_200, 0.022)],
        "GB-Mo",
    )


@dataclass
class Standin:
    """A running stand-in: its URL and the requests it answered."""

    url: str
    catalog: Catalog
    requests: list[dict[str, Any]]
    page_size: int


def _handler(standin: Standin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            target = self.headers.get("X-Amz-Target", "")
            standin.requests.append(
                {
                    "target": target,
                    "body": body,
                    "authorization": self.headers.get("Authorization", ""),
                }
            )
            if target != "AWSPriceListService.GetProducts":
                self._answer(400, {"__type": "UnknownOperationException", "message": target})
                return
            found = standin.catalog.matching(body["ServiceCode"], body.get("Filters", []))
            start = int(body.get("NextToken") or 0)
            size = min(int(body.get("MaxResults") or 100), standin.page_size)
            page = found[start : start + size]
            answer: dict[str, Any] = {
                "FormatVersion": "aws_v1",
                "PriceList": [json.dumps(p) for p in page],
            }
            if start + size < len(found):
                answer["NextToken"] = str(start + size)
            self._answer(200, answer)

    return Handler


@contextmanager
def serve(catalog: Catalog | None = None, page_size: int = 3) -> Iterator[Standin]:
    """Run the stand-in on 127.0.0.1 (a free port) while the block runs. A small page size
    makes every multi-product answer take several pages (NextToken)."""
    standin = Standin(
        url="", catalog=catalog or standard_catalog(), requests=[], page_size=page_size
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(standin))
    standin.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield standin
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
