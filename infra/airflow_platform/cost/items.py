"""What `prices refresh` asks the AWS Price List API for: one `PriceItem` per price the cost
model multiplies by, each saying which `GetProducts` call finds it and how the one product and
price dimension are picked from the answer.

How a price is found (cost/refresh.py does it):

1. `GetProducts(ServiceCode=item.service_code, Filters=[TERM_MATCH ...])` with the item's
   `filters` plus, for a regional item, `regionCode` = the region being priced. TERM_MATCH is
   the exact-match filter type the API has always had (botocore's pricing service model,
   `FilterType`); `regionCode` is an attribute of regional products (used as a TERM_MATCH
   field by many public callers of the API, e.g. `{'Field': 'regionCode', 'Value': region}`).
2. Of the products returned, keep those whose `usagetype` is `item.usage_type` after the
   region's usage-type prefix (`EU-NatGateway-Hours` in eu-west-1, `NatGateway-Hours` or
   `USE1-NatGateway-Hours` in us-east-1, `eu-west-1-KMS-Keys` for KMS), and whose attributes
   equal `item.attributes` (case-insensitively). A usage type is matched after the prefix, not
   as a substring: `EU-RegionalNatGateway-Hours` is not `NatGateway-Hours`.
3. Exactly one product must remain (or several with the same price: the same price listed
   under several SKUs); its OnDemand term must be exactly one; of its price dimensions the
   first (lowest `beginRange`) with a price above zero is the price. Tiers at $0 below it are a
   free tier, which AWS gives per account, not per stack, so it is not subtracted here (the
   estimate errs high, never low). The dimension's unit must be one of `item.units`.

Anything else (no product, two products at different prices, another unit) leaves the item
unresolved, with the reason: refresh fails unless told to write a partial table, and the plan
then reports the resources needing that price as unpriced, never as free.

Where each item's service code, product family, attribute names and usage types come from is
cited next to it. The sources are public callers of this API: infracost's AWS resources
(github.com/infracost/infracost, internal/resources/aws/*.go, whose product filters use the
Price List's own attribute names and usage types), and AWS's own examples of a `GetProducts`
answer (botocore data/pricing/2017-10-15/examples-1.json; aws/aws-cli
awscli/examples/pricing/get-products.rst). Items marked `verified=False` rest on attribute
names or values no such source confirms: the first real refresh says whether they match.
"""

from __future__ import annotations

from dataclasses import dataclass

# Units of price dimensions as the Price List writes them (`"unit": "GB-Mo"` in AWS's example
# answer; `Hrs` for hourly products). What each cost-model unit may be called in an answer.
HOURS = ("Hrs", "Hours", "hours", "Hour")
GB = ("GB", "GigaBytes")
GB_MONTH = ("GB-Mo", "GB-Month", "GB-month")
REQUESTS = ("Requests", "Request", "API Requests", "API Calls")
MONTHS = ("Mo", "Month", "Months")


@dataclass(frozen=True)
class PriceItem:
    """One price the cost model uses, and how refresh finds it."""

    key: str
    """How the cost model names it (`rds.instance.db.t4g.micro.single-az`)."""
    service_code: str
    filters: tuple[tuple[str, str], ...]
    """TERM_MATCH (field, value) pairs sent as GetProducts `Filters` (regionCode added)."""
    unit: str
    """What the model multiplies the price by: hour, GB, GB-month, request, month, ..."""
    units: tuple[str, ...]
    """The price dimension units accepted for `unit`."""
    usage_type: str | None = None
    """The product's `usagetype` after its region prefix, matched in the answer."""
    attributes: tuple[tuple[str, str], ...] = ()
    """Product attributes matched in the answer, case-insensitively (values the API spells
    in more than one case)."""
    record: tuple[str, ...] = ()
    """Product attributes kept in the table beside the price (the model reads them)."""
    regional: bool = True
    """Filter on regionCode; False for a product priced the same everywhere."""
    source: str = ""
    verified: bool = True


# --- RDS for PostgreSQL -----------------------------------------------------------------------
# The classes priced: every class the tiers default to (config/tiers.py) and the next sizes
# a stack file is likely to pick. A class missing here is reported unpriced by the plan, with
# this list named; tests/test_cost.py checks every tier default and stack file is covered.
RDS_INSTANCE_CLASSES = (
    "db.t4g.micro",
    "db.t4g.small",
    "db.t4g.medium",
    "db.t4g.large",
    "db.m7g.large",
    "db.m7g.xlarge",
    "db.m7g.2xlarge",
    "db.r7g.large",
    "db.r7g.xlarge",
)
DEPLOYMENTS = {"single-az": "Single-AZ", "multi-az": "Multi-AZ"}
# The usage type of an instance hour: InstanceUsage:<class> for Single-AZ, Multi-AZUsage:
# <class> for Multi-AZ (infracost db_instance.go documents the InstanceUsage form; the
# Multi-AZ form is the one AWS bills Multi-AZ hours under).
_RDS_INSTANCE_USAGE = {"single-az": "InstanceUsage", "multi-az": "Multi-AZUsage"}
# infracost internal/resources/aws/db_instance.go: productFamily "Database Instance" with
# instanceType, deploymentOption, databaseEngine; storage "Database Storage" with volumeType
# "General Purpose-GP3", databaseEngine "Any" and usage type RDS:GP3-Storage (Single-AZ) or
# RDS:Multi-AZ-GP3-Storage; backups "Storage Snapshot", RDS:ChargedBackupUsage; Performance
# Insights long-term retention "Performance Insights", PI_LTR:<FAMILY>, per vCPU-month.
_RDS_SOURCE = "infracost/infracost internal/resources/aws/db_instance.go"

# --- MWAA ---------------------------------------------------------------------------------------
MWAA_ENVIRONMENT_CLASSES = (
    "mw1.micro",
    "mw1.small",
    "mw1.medium",
    "mw1.large",
    "mw1.xlarge",
    "mw1.2xlarge",
)
# infracost internal/resources/aws/mwaa_environment.go: service AmazonMWAA, attributes
# `size` (matched case-insensitively there: /^small$/i) and `type` (Environment, Worker,
# Scheduler). The size is the class without `mw1.`.
_MWAA_SOURCE = "infracost/infracost internal/resources/aws/mwaa_environment.go"
MWAA_TYPES = ("Environment", "Worker", "Scheduler")

# --- EKS Auto Mode and its EC2 nodes ----------------------------------------------------------
# The node types the usage assumptions run (cost/assumptions.py); the task node pool allows
# c, m and r instances of amd64 (components/eks.py), so the assumptions pick one of those.
EC2_INSTANCE_TYPES = ("m7i.large", "m7i.xlarge", "m7i.2xlarge", "c7i.xlarge")
# infracost internal/resources/aws/instance.go and public GetProducts callers: productFamily
# "Compute Instance", operatingSystem Linux, tenancy Shared, preInstalledSw NA, capacitystatus
# Used, licenseModel "No License required"; the hour's usage type is BoxUsage:<type>.
_EC2_SOURCE = "infracost/infracost internal/resources/aws/instance.go"


def _rds_items() -> list[PriceItem]:
    items = []
    for instance_class in RDS_INSTANCE_CLASSES:
        for deployment, option in DEPLOYMENTS.items():
            items.append(
                PriceItem(
                    key=f"rds.instance.{instance_class}.{deployment}",
                    service_code="AmazonRDS",
                    filters=(
                        ("productFamily", "Database Instance"),
                        ("instanceType", instance_class),
                        ("databaseEngine", "PostgreSQL"),
                        ("deploymentOption", option),
                    ),
                    usage_type=f"{_RDS_INSTANCE_USAGE[deployment]}:{instance_class}",
                    unit="hour",
                    units=HOURS,
                    record=("vcpu",),
                    source=_RDS_SOURCE,
                )
            )
    for deployment, option in DEPLOYMENTS.items():
        usage = "RDS:GP3-Storage" if deployment == "single-az" else "RDS:Multi-AZ-GP3-Storage"
        items.append(
            PriceItem(
                key=f"rds.storage.gp3.{deployment}",
                service_code="AmazonRDS",
                filters=(
                    ("productFamily", "Database Storage"),
                    ("volumeType", "General Purpose-GP3"),
                    ("databaseEngine", "Any"),
                    ("deploymentOption", option),
                ),
                usage_type=usage,
                unit="GB-month",
                units=GB_MONTH,
                source=_RDS_SOURCE,
            )
        )
    items.append(
        PriceItem(
            key="rds.backup-storage",
            service_code="AmazonRDS",
            filters=(("productFamily", "Storage Snapshot"), ("databaseEngine", "Any")),
            usage_type="RDS:ChargedBackupUsage",
            unit="GB-month",
            units=GB_MONTH,
            source=_RDS_SOURCE,
        )
    )
    for family in sorted({c.split(".")[1] for c in RDS_INSTANCE_CLASSES}):
        items.append(
            PriceItem(
                key=f"rds.performance-insights.long-term.{family}",
                service_code="AmazonRDS",
                filters=(("productFamily", "Performance Insights"),),
                usage_type=f"PI_LTR:{family.upper()}",
                unit="vCPU-month",
                units=("vCPU-Months", "vCPU-Month", "vCPU-Mo"),
                source=_RDS_SOURCE,
                # The unit's spelling is not in the source; the first refresh confirms it.
                verified=False,
            )
        )
    return items


def _mwaa_items() -> list[PriceItem]:
    items = []
    for environment_class in MWAA_ENVIRONMENT_CLASSES:
        size = environment_class.removeprefix("mw1.")
        for kind in MWAA_TYPES:
            items.append(
                PriceItem(
                    key=f"mwaa.{kind.lower()}.{environment_class}",
                    service_code="AmazonMWAA",
                    filters=(),
                    attributes=(("size", size), ("type", kind)),
                    unit="hour",
                    units=HOURS,
                    source=_MWAA_SOURCE,
                    # infracost matches these attributes by regular expression, so the exact
                    # values (and whether micro and the x-large classes are listed the same
                    # way) are not confirmed; they are matched here after the answer arrives.
                    verified=False,
                )
            )
    return items


def _ec2_items() -> list[PriceItem]:
    items = []
    for instance_type in EC2_INSTANCE_TYPES:
        items.append(
            PriceItem(
                key=f"ec2.instance.{instance_type}",
                service_code="AmazonEC2",
                filters=(
                    ("productFamily", "Compute Instance"),
                    ("instanceType", instance_type),
                    ("operatingSystem", "Linux"),
                    ("tenancy", "Shared"),
                    ("preInstalledSw", "NA"),
                    ("capacitystatus", "Used"),
                    ("licenseModel", "No License required"),
                ),
                usage_type=f"BoxUsage:{instance_type}",
                unit="hour",
                units=HOURS,
                source=_EC2_SOURCE,
            )
        )
        items.append(
            PriceItem(
                key=f"eks.auto-mode.{instance_type}",
                service_code="AmazonEKS",
                filters=(),
                attributes=(("instanceType", instance_type),),
                unit="hour",
                units=HOURS,
                # EKS Auto Mode bills a management fee per hour of each instance it manages,
                # by instance type (docs.aws.amazon.com/eks/latest/userguide/automode.html,
                # aws.amazon.com/eks/pricing). No public source shows its Price List product,
                # so the attribute is a guess the first refresh confirms or refuses.
                source="aws.amazon.com/eks/pricing (EKS Auto Mode)",
                verified=False,
            )
        )
    return items


# Items priced once per region, whatever the stack's sizes.
_FIXED = (
    # infracost nat_gateway.go: AmazonEC2, productFamily "NAT Gateway", usage types
    # NatGateway-Hours and NatGateway-Bytes.
    PriceItem(
        key="ec2.nat-gateway.hours",
        service_code="AmazonEC2",
        filters=(("productFamily", "NAT Gateway"),),
        usage_type="NatGateway-Hours",
        unit="hour",
        units=HOURS,
        source="infracost/infracost internal/resources/aws/nat_gateway.go",
    ),
    PriceItem(
        key="ec2.nat-gateway.gb-processed",
        service_code="AmazonEC2",
        filters=(("productFamily", "NAT Gateway"),),
        usage_type="NatGateway-Bytes",
        unit="GB",
        units=GB,
        source="infracost/infracost internal/resources/aws/nat_gateway.go",
    ),
    # Every public IPv4 address is billed by the hour since 2024, in use or not, under
    # service AmazonVPC, usage type PublicIPv4:InUseAddress (no product family).
    PriceItem(
        key="vpc.public-ipv4.hours",
        service_code="AmazonVPC",
        filters=(),
        usage_type="PublicIPv4:InUseAddress",
        unit="hour",
        units=HOURS,
        source="aws.amazon.com/vpc/pricing (public IPv4); usage type as billed",
    ),
    # infracost vpc_endpoint.go: AmazonVPC, productFamily "VpcEndpoint", usage types
    # VpcEndpoint-Hours and VpcEndpoint-Bytes (interface endpoints; gateway ones are free).
    PriceItem(
        key="vpc.interface-endpoint.hours",
        service_code="AmazonVPC",
        filters=(("productFamily", "VpcEndpoint"),),
        usage_type="VpcEndpoint-Hours",
        unit="hour",
        units=HOURS,
        source="infracost/infracost internal/resources/aws/vpc_endpoint.go",
    ),
    PriceItem(
        key="vpc.interface-endpoint.gb-processed",
        service_code="AmazonVPC",
        filters=(("productFamily", "VpcEndpoint"),),
        usage_type="VpcEndpoint-Bytes",
        unit="GB",
        units=GB,
        source="infracost/infracost internal/resources/aws/vpc_endpoint.go",
    ),
    # infracost kms_key.go: awskms, productFamily "Encryption Key", usage type KMS-Keys
    # (prefixed with the region code itself, eu-west-1-KMS-Keys); requests KMS-Requests.
    PriceItem(
        key="kms.key.months",
        service_code="awskms",
        filters=(("productFamily", "Encryption Key"),),
        usage_type="KMS-Keys",
        unit="month",
        units=("Keys", "Key", *MONTHS),
        source="infracost/infracost internal/resources/aws/kms_key.go",
    ),
    PriceItem(
        key="kms.requests",
        service_code="awskms",
        filters=(),
        usage_type="KMS-Requests",
        unit="request",
        units=REQUESTS,
        source="infracost/infracost internal/resources/aws/kms_key.go",
    ),
    # infracost cloudwatch_metric_alarm.go: AmazonCloudWatch, productFamily "Alarm"; the
    # standard-resolution alarm's usage type is CW:AlarmMonitorUsage.
    PriceItem(
        key="cloudwatch.alarm.standard.months",
        service_code="AmazonCloudWatch",
        filters=(("productFamily", "Alarm"),),
        usage_type="CW:AlarmMonitorUsage",
        unit="month",
        units=("Alarms", "Alarm", *MONTHS),
        source="infracost/infracost internal/resources/aws/cloudwatch_metric_alarm.go",
    ),
    # infracost cloudwatch_dashboard.go: productFamily "Dashboard", usagetype
    # DashboardsUsageHour, with no region filter (one price for every region).
    PriceItem(
        key="cloudwatch.dashboard.months",
        service_code="AmazonCloudWatch",
        filters=(("productFamily", "Dashboard"),),
        usage_type="DashboardsUsageHour",
        unit="month",
        units=("Dashboards", "Dashboard", *MONTHS),
        regional=False,
        source="infracost/infracost internal/resources/aws/cloudwatch_dashboard.go",
    ),
    # infracost cloudwatch_log_group.go: ingestion "Data Payload" DataProcessing-Bytes,
    # storage "Storage Snapshot" TimedStorage-ByteHrs. Vended logs (VPC flow logs) are
    # ingested at the VendedLog-Bytes rate instead.
    PriceItem(
        key="cloudwatch.logs.ingested",
        service_code="AmazonCloudWatch",
        filters=(("productFamily", "Data Payload"),),
        usage_type="DataProcessing-Bytes",
        unit="GB",
        units=GB,
        source="infracost/infracost internal/resources/aws/cloudwatch_log_group.go",
    ),
    PriceItem(
        key="cloudwatch.logs.stored",
        service_code="AmazonCloudWatch",
        filters=(("productFamily", "Storage Snapshot"),),
        usage_type="TimedStorage-ByteHrs",
        unit="GB-month",
        units=GB_MONTH,
        source="infracost/infracost internal/resources/aws/cloudwatch_log_group.go",
    ),
    PriceItem(
        key="cloudwatch.logs.vended-ingested",
        service_code="AmazonCloudWatch",
        filters=(("productFamily", "Data Payload"),),
        usage_type="VendedLog-Bytes",
        unit="GB",
        units=GB,
        source="usage type VendedLog-Bytes as billed for vended logs (VPC flow logs)",
    ),
    # infracost eks_cluster.go: AmazonEKS, productFamily "Compute", AmazonEKS-Hours:perCluster
    # (standard support; a version in extended support is billed more).
    PriceItem(
        key="eks.cluster.hours",
        service_code="AmazonEKS",
        filters=(("productFamily", "Compute"),),
        usage_type="AmazonEKS-Hours:perCluster",
        unit="hour",
        units=HOURS,
        source="infracost/infracost internal/resources/aws/eks_cluster.go",
    ),
    # infracost lb.go: AWSELB, productFamily "Load Balancer-Network", usage types
    # LoadBalancerUsage (hours) and LCUUsage (NLCU-hours).
    PriceItem(
        key="elb.network.hours",
        service_code="AWSELB",
        filters=(("productFamily", "Load Balancer-Network"),),
        usage_type="LoadBalancerUsage",
        unit="hour",
        units=HOURS,
        source="infracost/infracost internal/resources/aws/lb.go",
    ),
    PriceItem(
        key="elb.network.lcu-hours",
        service_code="AWSELB",
        filters=(("productFamily", "Load Balancer-Network"),),
        usage_type="LCUUsage",
        unit="LCU-hour",
        units=("LCU-Hrs", "LCU-Hours", *HOURS),
        source="infracost/infracost internal/resources/aws/lb.go",
    ),
    # infracost ecr_repository.go: AmazonECR, productFamily "EC2 Container Registry".
    PriceItem(
        key="ecr.storage",
        service_code="AmazonECR",
        filters=(("productFamily", "EC2 Container Registry"),),
        usage_type="TimedStorage-ByteHrs",
        unit="GB-month",
        units=GB_MONTH,
        source="infracost/infracost internal/resources/aws/ecr_repository.go",
    ),
    # infracost secretsmanager_secret.go: AWSSecretsManager, productFamily "Secret" and
    # "API Request".
    PriceItem(
        key="secretsmanager.secret.months",
        service_code="AWSSecretsManager",
        filters=(("productFamily", "Secret"),),
        unit="month",
        units=("Secrets", "Secret", *MONTHS),
        source="infracost/infracost internal/resources/aws/secretsmanager_secret.go",
    ),
    PriceItem(
        key="secretsmanager.requests",
        service_code="AWSSecretsManager",
        filters=(("productFamily", "API Request"),),
        unit="request",
        units=REQUESTS,
        source="infracost/infracost internal/resources/aws/secretsmanager_secret.go",
    ),
    # infracost sns_topic.go: AmazonSNS, productFamily "API Request" (first 1M a month free:
    # the first paid tier is the price).
    PriceItem(
        key="sns.requests",
        service_code="AmazonSNS",
        filters=(("productFamily", "API Request"),),
        unit="request",
        units=REQUESTS,
        source="infracost/infracost internal/resources/aws/sns_topic.go",
    ),
    # infracost sqs_queue.go: AWSQueueService, productFamily "API Request", queueType.
    PriceItem(
        key="sqs.requests.standard",
        service_code="AWSQueueService",
        filters=(("productFamily", "API Request"), ("queueType", "Standard")),
        unit="request",
        units=REQUESTS,
        source="infracost/infracost internal/resources/aws/sqs_queue.go",
    ),
    # infracost lambda_function.go: AWSLambda, productFamily "Serverless", group
    # AWS-Lambda-Requests / AWS-Lambda-Duration; arm64 functions are the -ARM groups.
    *(
        PriceItem(
            key=f"lambda.{what}.{arch}",
            service_code="AWSLambda",
            filters=(
                ("productFamily", "Serverless"),
                ("group", f"AWS-Lambda-{group}{'-ARM' if arch == 'arm64' else ''}"),
            ),
            unit=unit,
            units=units,
            source="infracost/infracost internal/resources/aws/lambda_function.go",
        )
        for arch in ("arm64", "x86_64")
        for what, group, unit, units in (
            ("requests", "Requests", "request", REQUESTS),
            ("duration", "Duration", "GB-second", ("Lambda-GB-Second", "GB-Seconds", "Second")),
        )
    ),
    # EventBridge Scheduler invocations: service AWSEvents (EventBridge's service code); the
    # product's attributes are not in a public source, so the invocation product is picked by
    # its usage type, which the first refresh confirms.
    PriceItem(
        key="scheduler.invocations",
        service_code="AWSEvents",
        filters=(),
        usage_type="Scheduler-Invocation",
        unit="request",
        units=(*REQUESTS, "Invocations", "Invocation"),
        source="aws.amazon.com/eventbridge/pricing (EventBridge Scheduler)",
        verified=False,
    ),
    # infracost s3_standard_storage_class.go: AmazonS3, usage type TimedStorage-ByteHrs,
    # volumeType Standard.
    PriceItem(
        key="s3.standard.storage",
        service_code="AmazonS3",
        filters=(("productFamily", "Storage"), ("volumeType", "Standard")),
        usage_type="TimedStorage-ByteHrs",
        unit="GB-month",
        units=GB_MONTH,
        source="infracost/infracost internal/resources/aws/s3_standard_storage_class.go",
    ),
)


def _catalogue() -> dict[str, PriceItem]:
    items = [*_rds_items(), *_mwaa_items(), *_ec2_items(), *_FIXED]
    by_key = {item.key: item for item in items}
    if len(by_key) != len(items):
        raise AssertionError("two price items share a key")
    return by_key


PRICE_ITEMS: dict[str, PriceItem] = _catalogue()
"""What `prices refresh` prices in every region it is given, by key."""
