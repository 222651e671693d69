"""The monthly cost of each resource a plan declares, from its type and inputs, the price
table and the tier's usage assumptions (cost/assumptions.py).

Every resource type ends up in exactly one of three places, so nothing is silently zero:

- priced (`RULES`): a rule turns the resource's inputs into lines of quantity x price, each
  price looked up in the table by its item key (cost/items.py) and the resource's region;
  usage the inputs cannot state is a tier assumption, and the line's basis says so;
- free (`FREE`): a type AWS does not charge for (an IAM role, a security group rule), listed
  with the reason; a rule may also find one resource free (a gateway VPC endpoint);
- unpriced: a type with neither, or a priced one whose price the table lacks (a region it
  does not cover, an instance class not in items.py, an item the last refresh could not
  resolve), reported with the reason and left out of the total.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_platform.cost.assumptions import (
    DAYS_PER_MONTH,
    HOURS_PER_MONTH,
    LOG_INGEST_GB,
    LOG_RETENTION_MONTHS_IF_NEVER_EXPIRES,
    MWAA_DEFAULT_INCLUDED_SCHEDULERS,
    MWAA_INCLUDED_SCHEDULERS,
    MWAA_INCLUDED_WORKERS,
    PERFORMANCE_INSIGHTS_FREE_DAYS,
    TIER_USAGE,
    TierUsage,
)
from airflow_platform.cost.table import Price, PriceTable

STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass(frozen=True)
class Resource:
    """What the model needs of one declared resource."""

    urn: str
    type: str
    custom: bool
    inputs: Mapping[str, Any]
    region: str

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]


class Unpriced(Exception):  # noqa: N818 - an outcome, not an error
    """A resource the model cannot price; the message says why."""


@dataclass(frozen=True)
class Free:
    """A resource that costs nothing, and why."""

    reason: str


@dataclass(frozen=True)
class Line:
    """One billed quantity of a resource: quantity x the price of one unit."""

    quantity: float
    unit: str
    price: Price
    what: str = ""
    assumption: str = ""
    """Empty when the quantity comes from the inputs; else what is assumed."""

    @property
    def monthly(self) -> float:
        return self.quantity * self.price.usd

    def basis(self) -> str:
        text = f"{_quantity(self.quantity)} {self.unit}"
        if self.what:
            text += f" {self.what}"
        text += f" x {_rate(self.price.usd, _singular(self.unit))}"
        if self.assumption:
            text += f" ({self.assumption})"
        return text


@dataclass
class Context:
    """What a rule may read besides its resource."""

    table: PriceTable
    tier: str
    usage: TierUsage
    resources: Sequence[Resource]

    def price(self, key: str, region: str) -> Price:
        found = self.table.price(key, region)
        if found is None:
            raise Unpriced(self.table.why_missing(key, region))
        return found

    def assumed(self, what: str = "") -> str:
        return f"{self.tier} assumption{': ' + what if what else ''}"

    def of_type(self, token: str) -> list[Resource]:
        return [r for r in self.resources if r.type == token]


Rule = Callable[[Resource, Context], "list[Line] | Free"]


def _quantity(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _singular(unit: str) -> str:
    """`requests` -> `request`: a quantity's unit, as the unit of its rate."""
    return unit[:-1] if unit.endswith(("requests", "invocations", "seconds")) else unit


def _rate(usd: float, unit: str) -> str:
    """A price as a reviewer reads it: `$0.048/h`, or per million of a tiny unit."""
    if usd >= 0.01:
        return f"${usd:.4f}".rstrip("0").rstrip(".") + f"/{unit}"
    if usd >= 0.0001:
        return f"${usd:.6f}".rstrip("0").rstrip(".") + f"/{unit}"
    return f"${usd * 1_000_000:.4f}".rstrip("0").rstrip(".") + f" per 1M {unit}s"


def _hours(count: float = 1) -> float:
    return HOURS_PER_MONTH * count


# --- networking ---------------------------------------------------------------------------


def _nat_gateway(resource: Resource, ctx: Context) -> list[Line]:
    region = resource.region
    return [
        Line(_hours(), "h", ctx.price("ec2.nat-gateway.hours", region)),
        Line(
            ctx.usage.nat_gb_per_gateway,
            "GB",
            ctx.price("ec2.nat-gateway.gb-processed", region),
            what="processed",
            assumption=ctx.assumed(),
        ),
    ]


def _eip(resource: Resource, ctx: Context) -> list[Line]:
    # A public IPv4 address is billed by the hour whether or not it is attached.
    return [Line(_hours(), "h", ctx.price("vpc.public-ipv4.hours", resource.region), "public IPv4")]


def _vpc_endpoint(resource: Resource, ctx: Context) -> list[Line] | Free:
    kind = str(resource.inputs.get("vpcEndpointType") or "Gateway")
    if kind == "Gateway":
        return Free("a gateway endpoint (S3, DynamoDB) has no hourly or data charge")
    if kind != "Interface":
        raise Unpriced(f"a {kind} VPC endpoint has no price item")
    zones = max(1, len(resource.inputs.get("subnetIds") or []))
    return [
        Line(
            _hours(zones),
            "h",
            ctx.price("vpc.interface-endpoint.hours", resource.region),
            what=f"({zones} AZ)",
        ),
        Line(
            ctx.usage.interface_endpoint_gb,
            "GB",
            ctx.price("vpc.interface-endpoint.gb-processed", resource.region),
            what="processed",
            assumption=ctx.assumed(),
        ),
    ]


# --- encryption and secrets -------------------------------------------------------------------


def _kms_key(resource: Resource, ctx: Context) -> list[Line]:
    return [
        Line(1, "key-month", ctx.price("kms.key.months", resource.region)),
        Line(
            ctx.usage.kms_requests_per_key,
            "requests",
            ctx.price("kms.requests", resource.region),
            what="to the KMS API",
            assumption=ctx.assumed(),
        ),
    ]


def _secret(resource: Resource, ctx: Context) -> list[Line]:
    return [
        Line(1, "secret-month", ctx.price("secretsmanager.secret.months", resource.region)),
        Line(
            ctx.usage.secret_requests_per_secret,
            "requests",
            ctx.price("secretsmanager.requests", resource.region),
            what="to the Secrets Manager API",
            assumption=ctx.assumed(),
        ),
    ]


# --- the metadata database ------------------------------------------------------------------


def _backup_gb(storage_gb: float, retention_days: float, daily_change: float) -> float:
    """Automated backups: a full copy, then each retained day's changes."""
    return storage_gb * (1 + daily_change * max(0.0, retention_days - 1))


def _rds_instance(resource: Resource, ctx: Context) -> list[Line]:
    inputs, region = resource.inputs, resource.region
    if str(inputs.get("engine")) != "postgres":
        raise Unpriced(f"engine {inputs.get('engine')!r}: only postgres has price items")
    instance_class = str(inputs.get("instanceClass"))
    deployment = "multi-az" if inputs.get("multiAz") else "single-az"
    instance = ctx.price(f"rds.instance.{instance_class}.{deployment}", region)
    storage_type = str(inputs.get("storageType") or "gp2")
    if storage_type != "gp3":
        raise Unpriced(f"storage type {storage_type}: only gp3 has a price item")
    storage_gb = float(inputs.get("allocatedStorage") or 0)
    lines = [
        Line(_hours(), "h", instance, what=f"{instance_class} {deployment}"),
        Line(storage_gb, "GB-month", ctx.price(f"rds.storage.gp3.{deployment}", region), "gp3"),
    ]
    retention = float(inputs.get("backupRetentionPeriod") or 0)
    if retention > 0:
        change = ctx.usage.rds_backup_daily_change
        # Backup storage up to the instance's storage is free (per region).
        billable = _backup_gb(storage_gb, retention, change) - storage_gb
        if billable > 0:
            lines.append(
                Line(
                    billable,
                    "GB-month",
                    ctx.price("rds.backup-storage", region),
                    what="backups beyond the free size of the storage",
                    assumption=ctx.assumed(
                        f"{change:.0%} of storage changes a day, {retention:g} days kept"
                    ),
                )
            )
    if inputs.get("performanceInsightsEnabled"):
        days = float(inputs.get("performanceInsightsRetentionPeriod") or 7)
        if days > PERFORMANCE_INSIGHTS_FREE_DAYS:
            family = instance_class.split(".")[1]
            vcpus = float(instance.attributes.get("vcpu", "0"))
            lines.append(
                Line(
                    vcpus,
                    "vCPU-month",
                    ctx.price(f"rds.performance-insights.long-term.{family}", region),
                    what=f"Performance Insights kept {days:g} days",
                )
            )
    if inputs.get("manageMasterUserPassword"):
        # RDS keeps the master password in a Secrets Manager secret of its own.
        lines.append(
            Line(
                1,
                "secret-month",
                ctx.price("secretsmanager.secret.months", region),
                what="(the master password RDS manages)",
            )
        )
    return lines


def _db_identifier(arn: str) -> str:
    return arn.rsplit(":db:", 1)[-1]


def _rds_backup_replication(resource: Resource, ctx: Context) -> list[Line]:
    source = _db_identifier(str(resource.inputs.get("sourceDbInstanceArn") or ""))
    instances = [
        r for r in ctx.of_type("aws:rds/instance:Instance") if r.inputs.get("identifier") == source
    ]
    if not instances:
        raise Unpriced(f"its source database {source!r} is not in the plan")
    storage_gb = float(instances[0].inputs.get("allocatedStorage") or 0)
    retention = float(resource.inputs.get("retentionPeriod") or 7)
    change = ctx.usage.rds_backup_daily_change
    return [
        Line(
            _backup_gb(storage_gb, retention, change),
            "GB-month",
            ctx.price("rds.backup-storage", resource.region),
            what=f"of backup copies in {resource.region} (no free size there; the "
            "inter-region transfer of the copies is not priced)",
            assumption=ctx.assumed(
                f"{change:.0%} of {storage_gb:g} GB changes a day, {retention:g} days kept"
            ),
        )
    ]


# --- monitoring -------------------------------------------------------------------------------


def _alarm(resource: Resource, ctx: Context) -> list[Line]:
    queries = resource.inputs.get("metricQueries") or []
    period = float(resource.inputs.get("period") or 60)
    if queries:
        # An alarm on metric math is billed per metric it reads.
        metrics = sum(1 for q in queries if isinstance(q, dict) and q.get("metric"))
        periods = [
            float(q["metric"].get("period") or 60)
            for q in queries
            if isinstance(q, dict) and isinstance(q.get("metric"), dict)
        ]
        period = min(periods, default=60)
    else:
        metrics = 1
    if period < 60:
        raise Unpriced("a high-resolution alarm (period under 60 s) has no price item")
    return [
        Line(
            max(metrics, 1),
            "alarm-metric-month",
            ctx.price("cloudwatch.alarm.standard.months", resource.region),
            what="(standard resolution)",
        )
    ]


def _dashboard(resource: Resource, ctx: Context) -> list[Line]:
    return [
        Line(
            1,
            "dashboard-month",
            ctx.price("cloudwatch.dashboard.months", resource.region),
            what="(the account's free dashboards not subtracted)",
        )
    ]


def log_kind(name: str) -> str:
    """Which kind of log a group holds, from its name (the names the components give)."""
    checks = (
        ("vpc-flow-logs", "vpc-flow-logs"),
        ("/aws/rds/", "rds-upgrade" if name.endswith("/upgrade") else "rds-postgresql"),
        ("/aws/lambda/", "lambda"),
        ("/aws/chatbot/", "chatbot"),
        ("/aws/containerinsights/", "container-insights"),
        ("/aws/eks/", "eks-control-plane"),
        ("-Task", "mwaa-task"),
        ("-Worker", "mwaa-worker"),
        ("-Scheduler", "mwaa-scheduler"),
        ("-DAGProcessing", "mwaa-dag-processing"),
        ("-WebServer", "mwaa-webserver"),
    )
    for marker, kind in checks:
        if marker in name:
            return kind
    return "other"


def _retention_months(resource: Resource) -> float:
    days = float(resource.inputs.get("retentionInDays") or 0)
    if days <= 0:
        return LOG_RETENTION_MONTHS_IF_NEVER_EXPIRES
    return days / DAYS_PER_MONTH


def _log_group(resource: Resource, ctx: Context) -> list[Line]:
    name = str(resource.inputs.get("name") or resource.name)
    kind = log_kind(name)
    months = _retention_months(resource)
    if kind == "vpc-flow-logs":
        # Flow log records are ingested at the vended-log rate, priced on the flow log.
        ingested = ctx.usage.flow_log_gb
        lines: list[Line] = []
    else:
        ingested = LOG_INGEST_GB[kind] * ctx.usage.log_gb_scale
        lines = [
            Line(
                ingested,
                "GB",
                ctx.price("cloudwatch.logs.ingested", resource.region),
                what="ingested",
                assumption=ctx.assumed(f"{kind} logs"),
            )
        ]
    lines.append(
        Line(
            ingested * months,
            "GB-month",
            ctx.price("cloudwatch.logs.stored", resource.region),
            what=f"stored ({months:.1f} months kept, uncompressed: errs high)",
            assumption=ctx.assumed(f"{kind} logs"),
        )
    )
    return lines


def _flow_log(resource: Resource, ctx: Context) -> list[Line]:
    destination = str(resource.inputs.get("logDestinationType") or "cloud-watch-logs")
    if destination != "cloud-watch-logs":
        raise Unpriced(f"flow logs to {destination} have no price item")
    return [
        Line(
            ctx.usage.flow_log_gb,
            "GB",
            ctx.price("cloudwatch.logs.vended-ingested", resource.region),
            what="of flow log records ingested (vended logs)",
            assumption=ctx.assumed(),
        )
    ]


def _sns_topic(resource: Resource, ctx: Context) -> list[Line]:
    return [
        Line(
            ctx.usage.sns_requests_per_topic,
            "requests",
            ctx.price("sns.requests", resource.region),
            what="published (free tier not subtracted)",
            assumption=ctx.assumed(),
        )
    ]


def _sqs_queue(resource: Resource, ctx: Context) -> list[Line]:
    if resource.inputs.get("fifoQueue"):
        raise Unpriced("a FIFO queue has no price item")
    return [
        Line(
            ctx.usage.sqs_requests_per_queue,
            "requests",
            ctx.price("sqs.requests.standard", resource.region),
            what="(free tier not subtracted)",
            assumption=ctx.assumed(),
        )
    ]


_RATE = re.compile(r"rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)")


def invocations_per_month(expression: str) -> float:
    """How often a schedule expression fires in a month; Unpriced for one it cannot count."""
    found = _RATE.fullmatch(expression.strip())
    if found:
        every = int(found[1]) * {"minute": 1, "hour": 60, "day": 1440}[found[2].rstrip("s")]
        return HOURS_PER_MONTH * 60 / every
    if expression.startswith("at("):
        return 0.0  # a one-time schedule: at most once, not monthly
    raise Unpriced(f"schedule {expression!r}: only rate() expressions are counted")


def _target(resource: Resource) -> dict[str, Any]:
    target = resource.inputs.get("target") or {}
    if isinstance(target, str):  # a structure the engine passes as JSON text
        try:
            target = json.loads(target)
        except ValueError:
            return {}
    return target if isinstance(target, dict) else {}


def _schedule(resource: Resource, ctx: Context) -> list[Line]:
    count = invocations_per_month(str(resource.inputs.get("scheduleExpression") or ""))
    return [
        Line(
            count,
            "invocations",
            ctx.price("scheduler.invocations", resource.region),
            what=f"({resource.inputs.get('scheduleExpression')}; free tier not subtracted)",
        )
    ]


def _lambda(resource: Resource, ctx: Context) -> list[Line]:
    name = str(resource.inputs.get("name") or resource.name)
    invocations = 0.0
    for schedule in ctx.of_type("aws:scheduler/schedule:Schedule"):
        if str(_target(schedule).get("arn", "")).endswith(f":function:{name}"):
            invocations += invocations_per_month(str(schedule.inputs.get("scheduleExpression")))
    arch = str((resource.inputs.get("architectures") or ["x86_64"])[0])
    if arch not in ("arm64", "x86_64"):
        raise Unpriced(f"architecture {arch} has no price item")
    memory_gb = float(resource.inputs.get("memorySize") or 128) / 1024
    seconds = ctx.usage.lambda_duration_ms / 1000
    return [
        Line(
            invocations,
            "requests",
            ctx.price(f"lambda.requests.{arch}", resource.region),
            what="(its schedules' invocations; free tier not subtracted)",
        ),
        Line(
            invocations * memory_gb * seconds,
            "GB-seconds",
            ctx.price(f"lambda.duration.{arch}", resource.region),
            what=f"({memory_gb * 1024:g} MB)",
            assumption=ctx.assumed(f"{ctx.usage.lambda_duration_ms:g} ms a run"),
        ),
    ]


# --- Airflow's runtimes --------------------------------------------------------------------


def _mwaa(resource: Resource, ctx: Context) -> list[Line]:
    inputs, region = resource.inputs, resource.region
    environment_class = str(inputs.get("environmentClass") or "mw1.small")
    lines = [
        Line(
            _hours(),
            "h",
            ctx.price(f"mwaa.environment.{environment_class}", region),
            what=f"{environment_class} environment",
        )
    ]
    min_workers = int(inputs.get("minWorkers") or 1)
    max_workers = int(inputs.get("maxWorkers") or min_workers)
    always = max(0, min_workers - MWAA_INCLUDED_WORKERS)
    scaled = min(ctx.usage.mwaa_extra_worker_hours, _hours(max(0, max_workers - min_workers)))
    worker = ctx.price(f"mwaa.worker.{environment_class}", region)
    if always:
        lines.append(Line(_hours(always), "h", worker, what=f"of {always} additional workers"))
    if scaled:
        lines.append(
            Line(scaled, "h", worker, what="of autoscaled workers", assumption=ctx.assumed())
        )
    included = MWAA_INCLUDED_SCHEDULERS.get(environment_class, MWAA_DEFAULT_INCLUDED_SCHEDULERS)
    extra = max(0, int(inputs.get("schedulers") or included) - included)
    if extra:
        lines.append(
            Line(
                _hours(extra),
                "h",
                ctx.price(f"mwaa.scheduler.{environment_class}", region),
                what=f"of {extra} additional schedulers",
            )
        )
    return lines


def _node_lines(
    ctx: Context, region: str, instance_type: str, hours: float, what: str, assumption: str
) -> list[Line]:
    return [
        Line(hours, "h", ctx.price(f"ec2.instance.{instance_type}", region), what, assumption),
        Line(
            hours,
            "h",
            ctx.price(f"eks.auto-mode.{instance_type}", region),
            what="of Auto Mode management",
            assumption=assumption,
        ),
    ]


def _eks_cluster(resource: Resource, ctx: Context) -> list[Line]:
    lines = [Line(_hours(), "h", ctx.price("eks.cluster.hours", resource.region), "cluster")]
    if (resource.inputs.get("computeConfig") or {}).get("enabled"):
        usage = ctx.usage
        lines += _node_lines(
            ctx,
            resource.region,
            usage.eks_node_type,
            _hours(usage.eks_nodes),
            f"of {usage.eks_nodes} {usage.eks_node_type} on-demand nodes",
            ctx.assumed("the general-purpose and system pools' nodes"),
        )
    return lines


def _node_pool(resource: Resource, ctx: Context) -> list[Line]:
    spec = resource.inputs.get("spec") or {}
    if isinstance(spec, str):
        spec = json.loads(spec)
    node_class = (spec.get("template", {}).get("spec", {}).get("nodeClassRef") or {}).get("group")
    if node_class != "eks.amazonaws.com":
        raise Unpriced("a node pool outside EKS Auto Mode has no price rule")
    usage = ctx.usage
    return _node_lines(
        ctx,
        resource.region,
        usage.task_node_type,
        usage.task_node_hours,
        f"of {usage.task_node_type} task nodes, on-demand (spot would cost less)",
        ctx.assumed(),
    )


def _k8s_service(resource: Resource, ctx: Context) -> list[Line] | Free:
    spec = resource.inputs.get("spec") or {}
    if spec.get("type") != "LoadBalancer":
        return Free("a Service without a load balancer creates no AWS resource")
    annotations = (resource.inputs.get("metadata") or {}).get("annotations") or {}
    nlb = spec.get("loadBalancerClass") == "eks.amazonaws.com/nlb" or annotations.get(
        "service.beta.kubernetes.io/aws-load-balancer-type"
    ) in ("nlb", "external")
    if not nlb:
        raise Unpriced("a LoadBalancer Service that is not a network load balancer")
    return [
        Line(_hours(), "h", ctx.price("elb.network.hours", resource.region), "NLB"),
        Line(
            _hours(ctx.usage.nlb_lcu),
            "LCU-hour",
            ctx.price("elb.network.lcu-hours", resource.region),
            assumption=ctx.assumed(f"{ctx.usage.nlb_lcu:g} NLCU on average"),
        ),
    ]


# --- storage ---------------------------------------------------------------------------------


def _ecr(resource: Resource, ctx: Context) -> list[Line]:
    return [
        Line(
            ctx.usage.ecr_gb,
            "GB-month",
            ctx.price("ecr.storage", resource.region),
            what="of images",
            assumption=ctx.assumed(),
        )
    ]


def _bucket(resource: Resource, ctx: Context) -> list[Line]:
    purpose = str((resource.inputs.get("tags") or {}).get("purpose", ""))
    if purpose not in ctx.usage.s3_gb:
        raise Unpriced(f"no storage assumption for a bucket of purpose {purpose!r}")
    return [
        Line(
            ctx.usage.s3_gb[purpose],
            "GB-month",
            ctx.price("s3.standard.storage", resource.region),
            what="at the S3 Standard rate (lifecycle moves older objects to cheaper classes: "
            "errs high)",
            assumption=ctx.assumed(f"{purpose} bucket"),
        )
    ]


# --- free with a condition ----------------------------------------------------------------------


def _event_rule(resource: Resource, ctx: Context) -> Free:
    pattern = resource.inputs.get("eventPattern") or "{}"
    try:
        sources = json.loads(pattern).get("source", []) if isinstance(pattern, str) else []
    except ValueError:
        sources = []
    if sources and all(str(s).startswith("aws.") for s in sources):
        return Free("a rule on AWS service events of the default bus has no charge")
    raise Unpriced("a rule on custom or partner events has no price item")


def _eks_addon(resource: Resource, ctx: Context) -> Free:
    if resource.inputs.get("addonName") == "amazon-cloudwatch-observability":
        raise Unpriced(
            "Container Insights with enhanced observability is billed per observation; "
            "no price item or usage assumption for it yet"
        )
    return Free("an EKS add-on has no charge of its own")


RULES: Mapping[str, Rule] = {
    "aws:cloudwatch/dashboard:Dashboard": _dashboard,
    "aws:cloudwatch/eventRule:EventRule": _event_rule,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:ec2/eip:Eip": _eip,
    "aws:ec2/flowLog:FlowLog": _flow_log,
    "aws:ec2/natGateway:NatGateway": _nat_gateway,
    "aws:ec2/vpcEndpoint:VpcEndpoint": _vpc_endpoint,
    "aws:ecr/repository:Repository": _ecr,
    "aws:eks/addon:Addon": _eks_addon,
    "aws:eks/cluster:Cluster": _eks_cluster,
    "aws:kms/key:Key": _kms_key,
    "aws:lambda/function:Function": _lambda,
    "aws:mwaa/environment:Environment": _mwaa,
    "aws:rds/instance:Instance": _rds_instance,
    "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication": (
        _rds_backup_replication
    ),
    "aws:s3/bucket:Bucket": _bucket,
    "aws:scheduler/schedule:Schedule": _schedule,
    "aws:secretsmanager/secret:Secret": _secret,
    "aws:sns/topic:Topic": _sns_topic,
    "aws:sqs/queue:Queue": _sqs_queue,
    "kubernetes:core/v1:Service": _k8s_service,
    "kubernetes:karpenter.sh/v1:NodePool": _node_pool,
}
"""The types whose cost depends on their inputs, and the rule that prices each."""

_NO_CHARGE = "no charge"
_BUCKET_SETTING = "a bucket setting: no charge (the bucket's storage is priced on the bucket)"
_KUBERNETES = (
    "a Kubernetes object: its pods run on the nodes priced on the EKS cluster and node pool"
)
_PULUMI = "Pulumi's own bookkeeping, not a cloud resource"
FREE: Mapping[str, str] = {
    "aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration": (
        "AWS Chatbot has no charge of its own (the SNS topic it reads is priced)"
    ),
    "aws:cloudwatch/eventTarget:EventTarget": "a rule's target: no charge",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": _NO_CHARGE,
    "aws:ec2/internetGateway:InternetGateway": "no charge (data transfer aside)",
    "aws:ec2/routeTable:RouteTable": _NO_CHARGE,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": _NO_CHARGE,
    "aws:ec2/securityGroup:SecurityGroup": _NO_CHARGE,
    "aws:ec2/subnet:Subnet": _NO_CHARGE,
    "aws:ec2/vpc:Vpc": "no charge (its NAT gateways, addresses and endpoints are priced)",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": _NO_CHARGE,
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": _NO_CHARGE,
    "aws:iam/role:Role": "IAM has no charge",
    "aws:iam/rolePolicy:RolePolicy": "IAM has no charge",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "IAM has no charge",
    "aws:kms/alias:Alias": "no charge (the key is priced)",
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": _NO_CHARGE,
    "aws:rds/parameterGroup:ParameterGroup": _NO_CHARGE,
    "aws:rds/subnetGroup:SubnetGroup": _NO_CHARGE,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _BUCKET_SETTING,
    "aws:s3/bucketLogging:BucketLogging": (
        "server access logging has no charge of its own (the logs' storage is priced on the "
        "access-logs bucket)"
    ),
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration": _BUCKET_SETTING,
    "aws:s3/bucketObjectv2:BucketObjectv2": (
        "an object: its bytes are in its bucket's storage assumption"
    ),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _BUCKET_SETTING,
    "aws:s3/bucketPolicy:BucketPolicy": _BUCKET_SETTING,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _BUCKET_SETTING,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        _BUCKET_SETTING
    ),
    "aws:s3/bucketVersioning:BucketVersioning": _BUCKET_SETTING,
    "aws:secretsmanager/secretVersion:SecretVersion": (
        "a version is part of its secret's monthly price"
    ),
    "aws:sns/topicPolicy:TopicPolicy": _NO_CHARGE,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _NO_CHARGE,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _NO_CHARGE,
    "docker-build:index:Image": (
        "built by the deployer: no AWS charge (the pushed image is in the ECR repository's "
        "storage assumption)"
    ),
    "kubernetes:batch/v1:Job": _KUBERNETES,
    "kubernetes:core/v1:Namespace": _KUBERNETES,
    "kubernetes:eks.amazonaws.com/v1:NodeClass": (
        "a Kubernetes object: the nodes it shapes are priced on the task node pool"
    ),
    "kubernetes:storage.k8s.io/v1:StorageClass": (
        "a Kubernetes object: no charge until a claim makes a volume (the chart makes none)"
    ),
    "kubernetes:core/v1:Secret": _KUBERNETES,
    "kubernetes:core/v1:ServiceAccount": _KUBERNETES,
    "kubernetes:helm.sh/v3:Release": _KUBERNETES,
    "pulumi:providers:aws": _PULUMI,
    "pulumi:providers:kubernetes": _PULUMI,
    "pulumi:pulumi:Stack": _PULUMI,
    "random:index/randomBytes:RandomBytes": "generated by Pulumi: not a cloud resource",
    "random:index/randomId:RandomId": "generated by Pulumi: not a cloud resource",
    "random:index/randomPassword:RandomPassword": "generated by Pulumi: not a cloud resource",
}
"""Types AWS (or nobody) charges for, with the reason."""
COMPONENT_REASON = "a component: it groups its children, which are priced themselves"


@dataclass
class Estimate:
    """The outcome for a whole plan."""

    items: list[tuple[Resource, float, str]] = field(default_factory=list)
    unpriced: list[tuple[Resource, str]] = field(default_factory=list)
    free: list[tuple[Resource, str]] = field(default_factory=list)

    @property
    def monthly(self) -> float:
        return round(sum(round(monthly, 2) for _, monthly, _ in self.items), 2)


def estimate(resources: Iterable[Resource], table: PriceTable, tier: str) -> Estimate:
    """Price each of `resources` (the plan's, in step order) for a stack of `tier`."""
    resources = list(resources)
    usage = TIER_USAGE.get(tier)
    if usage is None:
        raise ValueError(f"no usage assumptions for tier {tier!r} (cost/assumptions.py)")
    ctx = Context(table=table, tier=tier, usage=usage, resources=resources)
    result = Estimate()
    for resource in resources:
        rule = RULES.get(resource.type)
        if rule is None:
            if resource.type in FREE:
                result.free.append((resource, FREE[resource.type]))
            elif not resource.custom and resource.type != STACK_TYPE:
                result.free.append((resource, COMPONENT_REASON))
            else:
                result.unpriced.append(
                    (resource, f"no cost rule or free entry for {resource.type} (cost/model.py)")
                )
            continue
        try:
            outcome = rule(resource, ctx)
        except Unpriced as why:
            result.unpriced.append((resource, str(why)))
            continue
        if isinstance(outcome, Free):
            result.free.append((resource, outcome.reason))
            continue
        monthly = sum(line.monthly for line in outcome)
        basis = " + ".join(line.basis() for line in outcome) or "nothing billed"
        result.items.append((resource, monthly, basis))
    return result


def cost_block(result: Estimate, table: PriceTable, tier: str) -> dict[str, Any]:
    """The plan contract's `cost`: the total, each priced resource with its basis, and the
    two extensions `unpriced` (resource and reason, not in the total) and `free` (count of
    resources by type and reason)."""
    free = Counter((resource.type, reason) for resource, reason in result.free)
    return {
        "currency": "USD",
        "monthly": result.monthly,
        "pricesAsOf": table.prices_as_of.isoformat(),
        "items": [
            {"urn": resource.urn, "monthly": round(monthly, 2), "basis": basis}
            for resource, monthly, basis in result.items
        ],
        "unpriced": [
            {"urn": resource.urn, "type": resource.type, "reason": reason}
            for resource, reason in result.unpriced
        ],
        "free": [
            {"type": kind, "count": count, "reason": reason}
            for (kind, reason), count in sorted(free.items())
        ],
        "usage": f"{tier} tier assumptions (airflow_platform/cost/assumptions.py)",
    }


def cost_change(base: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any] | None:
    """How the monthly cost moves from a base plan's cost block to `new`'s, per resource and
    in total; None when either was not evaluated (no price table)."""
    if not base.get("pricesAsOf") or not new.get("pricesAsOf"):
        return None
    before = {item["urn"]: float(item["monthly"]) for item in base.get("items", [])}
    after = {item["urn"]: float(item["monthly"]) for item in new.get("items", [])}
    items = []
    for urn in sorted(before.keys() | after.keys()):
        old, now = before.get(urn, 0.0), after.get(urn, 0.0)
        if round(now - old, 2):
            items.append(
                {
                    "urn": urn,
                    "before": old if urn in before else None,
                    "after": now if urn in after else None,
                    "change": round(now - old, 2),
                }
            )
    return {
        "baseMonthly": float(base.get("monthly", 0.0)),
        "basePricesAsOf": base.get("pricesAsOf"),
        "change": round(float(new["monthly"]) - float(base.get("monthly", 0.0)), 2),
        "items": items,
    }


def resources_of(declared: Iterable[Any], stack_region: str) -> list[Resource]:
    """The model's view of declared resources (plan.runner's DeclaredResource, in the order
    given), each with its region: its own `region` input (pulumi-aws 7 takes one per
    resource), else its explicit AWS provider's, else the stack's."""
    declared = list(declared)
    provider_regions = {
        r.urn: str(r.inputs.get("region"))
        for r in declared
        if r.type == "pulumi:providers:aws" and r.inputs.get("region")
    }
    resources = []
    for r in declared:
        region = r.inputs.get("region") if isinstance(r.inputs.get("region"), str) else None
        provider = getattr(r, "provider", "")
        if not region and provider:
            region = provider_regions.get(provider.rsplit("::", 1)[0])
        resources.append(
            Resource(
                urn=r.urn,
                type=r.type,
                custom=r.custom,
                inputs=r.inputs,
                region=region or stack_region,
            )
        )
    return resources


def plan_cost(
    run: Any, table: PriceTable, stack_region: str, base: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The `cost` block of a plan for `run` (plan.runner's ProgramRun), its resources in step
    order; with `base` (a base plan), its `change` against the base's own cost block."""
    from airflow_platform.plan.contract import step_order

    declared = sorted(run.resources, key=lambda r: step_order(r.urn))
    tier = str(run.outputs.get("tier") or "ephemeral")
    block = cost_block(estimate(resources_of(declared, stack_region), table, tier), table, tier)
    if base is not None:
        block["change"] = cost_change(base.get("cost") or {}, block)
    return block
