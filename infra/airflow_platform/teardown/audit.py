"""The orphan audit: what a stack still has in AWS, found by its tags and by its names.

Three searches, in every region the stack used:

* by tag: the Resource Groups Tagging API's GetResources with the stack's `project` and
  `stack` tags (both, so another project's `stack=pr-7` is not ours), page by page;
* by cluster tag: GetResources with `eks:eks-cluster-name = airflow-<stack>`, what EKS Auto
  Mode created for the cluster (instances, volumes, network interfaces, load balancers),
  which carries EKS's tags, not the stack's;
* by name (`naming.NamingRule`): log groups, buckets, EventBridge Scheduler schedules,
  Secrets Manager secrets and IAM roles whose name the stack's rule owns, unless their own
  tags name another project or stack.

IAM roles need a search of their own: "The GetResources operation does not currently
support IAM users and roles" (Resource Groups Tagging API Reference, "Services that support
the Resource Groups Tagging API"). GetAccountAuthorizationDetails lists every role with its
tags in one paginated call (IAM API Reference; botocore's `RoleDetail` shape has `Tags`).

What AWS already deletes on its own time is listed but is not an orphan: a KMS key
`PendingDeletion` (GetResources still returns it, with its tags) and a secret with a
`DeletedDate` (scheduled for deletion). An error from any call (AccessDenied, a region not
enabled for the account, no endpoint) raises `AuditError` naming the service and region: an
audit that could not look never reports clean.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_platform.teardown.naming import CLUSTER_NAME_TAG, NamingRule, naming_rule

if TYPE_CHECKING:
    from airflow_platform.config import Settings

GLOBAL = "global"
"""The region of what has none (IAM roles)."""
BY_TAG, BY_NAME, BY_CLUSTER_TAG = "tag", "name", "cluster-tag"
# KMS key states in which AWS deletes the key itself when the waiting period ends (KMS API
# Reference, KeyMetadata.KeyState).
_KEY_DELETING = frozenset({"PendingDeletion", "PendingReplicaDeletion"})
# Resource types whose ARN carries no type of its own (`arn:aws:sqs:<region>:<account>:<name>`).
_UNTYPED_KINDS = {"s3": "bucket", "sqs": "queue", "sns": "topic"}
# Which search finds a resource first when several do: its tags say the most.
_PRECEDENCE = {BY_TAG: 0, BY_CLUSTER_TAG: 1, BY_NAME: 2}


class AuditError(Exception):
    """Part of the account could not be read, so the audit cannot say what is left."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        """AWS's error code (`AccessDenied`), when AWS answered with one."""


@dataclass(frozen=True)
class AuditTarget:
    """The stack to audit, and where."""

    project: str
    stack: str
    account_id: str
    regions: tuple[str, ...]
    """Every region the stack used: its own, plus us-east-1 (Chatbot's log group)."""


@dataclass(frozen=True)
class Leftover:
    """One resource the stack still has."""

    region: str
    """The resource's region ("global" for IAM)."""
    kind: str
    """`<service>:<resource type>`, such as "logs:log-group", "s3:bucket", "kms:key"."""
    identifier: str
    """Its ARN, or its name where there is no ARN."""
    found_by: str
    """"tag", "name" or "cluster-tag"."""
    pending_deletion: bool = False
    """Already scheduled for deletion by AWS (a KMS key PendingDeletion, a secret scheduled
    for deletion): shown, not an orphan."""


@dataclass(frozen=True)
class AuditReport:
    """What the audit found."""

    target: AuditTarget
    leftovers: tuple[Leftover, ...]

    @property
    def orphans(self) -> tuple[Leftover, ...]:
        """Leftovers AWS is not already deleting."""
        return tuple(item for item in self.leftovers if not item.pending_deletion)

    @property
    def clean(self) -> bool:
        """Nothing left but what AWS is already deleting."""
        return not self.orphans


def audit_regions(settings: Settings) -> tuple[str, ...]:
    """The regions the stack's resources live in: its own, and Chatbot's log group region when
    the stack has a Slack channel (components/alerts.py)."""
    from airflow_platform.components.alerts import CHATBOT_LOG_REGION

    regions = [settings.region]
    if settings.config.monitoring.slack is not None:
        regions.append(CHATBOT_LOG_REGION)
    return tuple(dict.fromkeys(regions))


def audit_stack(target: AuditTarget, client_for: Callable[[str, str], Any]) -> AuditReport:
    """Every resource of `target` left in its regions; `client_for(service, region)` returns
    a boto3 client. Raises AuditError when a service cannot be read."""
    if not target.regions:
        raise AuditError(f"no region to audit {target.stack} in")
    audit = _Audit(target, client_for)
    found: list[Leftover] = []
    for region in target.regions:
        rule = naming_rule(target.project, target.stack, target.account_id, region)
        found += audit.by_tag(region)
        found += audit.by_cluster_tag(region, rule)
        found += audit.log_groups(region, rule)
        found += audit.schedules(region, rule)
        found += audit.secrets(region, rule)
    found += audit.buckets()
    found += audit.roles()
    unique: dict[str, Leftover] = {}
    for item in sorted(found, key=lambda item: _PRECEDENCE[item.found_by]):
        unique.setdefault(item.identifier, item)
    leftovers = [audit.settled(item) for item in unique.values()]
    leftovers.sort(key=lambda item: (item.region, item.kind, item.identifier))
    return AuditReport(target=target, leftovers=tuple(leftovers))


def kind_of(arn: str) -> str:
    """`<service>:<resource type>` of an ARN: `logs:log-group`, `ec2:network-interface`,
    `kms:key`, `s3:bucket`, `sqs:queue`."""
    parts = arn.split(":", 5)
    service, resource = parts[2], parts[5] if len(parts) > 5 else ""
    # The type ends at the first `/` or `:` (`log-group:/aws/...`, `key/<id>`).
    cut = min((i for i in (resource.find("/"), resource.find(":")) if i >= 0), default=-1)
    if cut >= 0:
        return f"{service}:{resource[:cut]}"
    return f"{service}:{_UNTYPED_KINDS.get(service, resource)}"


def _region_of(arn: str, default: str) -> str:
    parts = arn.split(":", 5)
    return parts[3] if len(parts) > 3 and parts[3] else default


def _tag_dict(tags: Iterable[Mapping[str, str]] | None) -> dict[str, str]:
    """`[{"Key": k, "Value": v}]` (most services) as a dict."""
    return {tag["Key"]: tag.get("Value", "") for tag in tags or ()}


class _Audit:
    """The searches, each call's failure turned into an AuditError naming what it read."""

    def __init__(self, target: AuditTarget, client_for: Callable[[str, str], Any]) -> None:
        self.target = target
        self._client_for = client_for
        self._clients: dict[tuple[str, str], Any] = {}

    # --- calls ----------------------------------------------------------------------------

    def _client(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = self._client_for(service, region)
        return self._clients[key]

    def _pages(self, service: str, region: str, operation: str, **kwargs: Any) -> Iterator[Any]:
        client = self._client(service, region)
        with _reading(service, region, operation):
            yield from client.get_paginator(operation).paginate(**kwargs)

    def _call(self, service: str, region: str, operation: str, **kwargs: Any) -> Any:
        client = self._client(service, region)
        with _reading(service, region, operation):
            return getattr(client, operation)(**kwargs)

    def _someone_elses(self, tags: Mapping[str, str]) -> bool:
        """Tags that name another project or stack: a name match that is not ours."""
        target = self.target
        return tags.get("project", target.project) != target.project or (
            tags.get("stack", target.stack) != target.stack
        )

    # --- searches -------------------------------------------------------------------------

    def by_tag(self, region: str) -> list[Leftover]:
        filters = [
            {"Key": "project", "Values": [self.target.project]},
            {"Key": "stack", "Values": [self.target.stack]},
        ]
        return self._tagged(region, filters, BY_TAG)

    def by_cluster_tag(self, region: str, rule: NamingRule) -> list[Leftover]:
        filters = [{"Key": CLUSTER_NAME_TAG, "Values": [rule.cluster_name]}]
        return self._tagged(region, filters, BY_CLUSTER_TAG)

    def _tagged(self, region: str, filters: list[dict[str, Any]], how: str) -> list[Leftover]:
        found = []
        for page in self._pages(
            "resourcegroupstaggingapi", region, "get_resources", TagFilters=filters
        ):
            for mapping in page.get("ResourceTagMappingList", []):
                arn = mapping["ResourceARN"]
                kind = kind_of(arn)
                where = self._bucket_region(arn, region) if kind == "s3:bucket" else region
                found.append(Leftover(_region_of(arn, where), kind, arn, how))
        return found

    def _bucket_region(self, arn: str, region: str) -> str:
        """S3 ARNs carry no region: the bucket's own (GetBucketLocation: no constraint is
        us-east-1, the legacy `EU` is eu-west-1)."""
        name = arn.rsplit(":", 1)[1]
        answer = self._call("s3", region, "get_bucket_location", Bucket=name)
        location = answer.get("LocationConstraint") or "us-east-1"
        return "eu-west-1" if location == "EU" else location

    def log_groups(self, region: str, rule: NamingRule) -> list[Leftover]:
        # DescribeLogGroups filters by prefix only: an exact name is queried as a prefix and
        # compared in full.
        found: dict[str, str] = {}
        for prefix in sorted({*rule.log_group_names, *rule.log_group_prefixes}):
            for page in self._pages(
                "logs", region, "describe_log_groups", logGroupNamePrefix=prefix
            ):
                for group in page.get("logGroups", []):
                    if rule.owns_log_group(group["logGroupName"]):
                        arn = group.get("logGroupArn") or group["arn"].removesuffix(":*")
                        found[arn] = group["logGroupName"]
        result = []
        for arn in sorted(found):
            tags = self._call("logs", region, "list_tags_for_resource", resourceArn=arn)
            if not self._someone_elses(tags.get("tags", {})):
                result.append(Leftover(region, "logs:log-group", arn, BY_NAME))
        return result

    def schedules(self, region: str, rule: NamingRule) -> list[Leftover]:
        # Schedules take no tags, so their names are all there is (EventBridge Scheduler
        # tags only schedule groups).
        found = []
        for page in self._pages(
            "scheduler", region, "list_schedules", NamePrefix=rule.schedule_prefix
        ):
            for schedule in page.get("Schedules", []):
                if rule.owns_schedule(schedule["Name"]):
                    found.append(Leftover(region, "scheduler:schedule", schedule["Arn"], BY_NAME))
        return found

    def secrets(self, region: str, rule: NamingRule) -> list[Leftover]:
        # The `name` filter matches the start of the name; IncludePlannedDeletion lists the
        # secrets scheduled for deletion too (Secrets Manager API Reference, ListSecrets).
        found = []
        for page in self._pages(
            "secretsmanager",
            region,
            "list_secrets",
            IncludePlannedDeletion=True,
            Filters=[{"Key": "name", "Values": [rule.secret_prefix]}],
        ):
            for secret in page.get("SecretList", []):
                if rule.owns_secret(secret["Name"]) and not self._someone_elses(
                    _tag_dict(secret.get("Tags"))
                ):
                    pending = secret.get("DeletedDate") is not None
                    found.append(
                        Leftover(region, "secretsmanager:secret", secret["ARN"], BY_NAME, pending)
                    )
        return found

    def buckets(self) -> list[Leftover]:
        """Bucket names hold the region: one ListBuckets for all of them."""
        rules = [
            naming_rule(self.target.project, self.target.stack, self.target.account_id, region)
            for region in self.target.regions
        ]
        home = self.target.regions[0]
        answer = self._call("s3", home, "list_buckets")
        found = []
        for bucket in answer.get("Buckets", []):
            name = bucket["Name"]
            owner = next((rule for rule in rules if rule.owns_bucket(name)), None)
            if owner is None:
                continue
            try:
                tags = self._call("s3", home, "get_bucket_tagging", Bucket=name)["TagSet"]
            except AuditError as error:
                if error.code != "NoSuchTagSet":  # S3's answer for a bucket without tags
                    raise
                tags = []
            if not self._someone_elses(_tag_dict(tags)):
                found.append(Leftover(owner.region, "s3:bucket", f"arn:aws:s3:::{name}", BY_NAME))
        return found

    def roles(self) -> list[Leftover]:
        """IAM roles with the stack's tags, and untagged ones the naming rule owns."""
        rule = naming_rule(
            self.target.project, self.target.stack, self.target.account_id, self.target.regions[0]
        )
        found = []
        for page in self._pages(
            "iam", self.target.regions[0], "get_account_authorization_details", Filter=["Role"]
        ):
            for role in page.get("RoleDetailList", []):
                tags = _tag_dict(role.get("Tags"))
                ours = (
                    tags.get("project") == self.target.project
                    and tags.get("stack") == self.target.stack
                )
                if ours:
                    found.append(Leftover(GLOBAL, "iam:role", role["Arn"], BY_TAG))
                elif rule.owns_role(role["RoleName"]) and not self._someone_elses(tags):
                    found.append(Leftover(GLOBAL, "iam:role", role["Arn"], BY_NAME))
        return found

    # --- what AWS is already deleting -----------------------------------------------------

    def settled(self, item: Leftover) -> Leftover:
        """`item`, marked pending deletion when AWS is already deleting it."""
        if item.pending_deletion:
            return item
        if item.kind == "kms:key":
            metadata = self._call("kms", item.region, "describe_key", KeyId=item.identifier)
            pending = metadata["KeyMetadata"].get("KeyState") in _KEY_DELETING
        elif item.kind == "secretsmanager:secret":
            secret = self._call(
                "secretsmanager", item.region, "describe_secret", SecretId=item.identifier
            )
            pending = secret.get("DeletedDate") is not None
        else:
            return item
        return Leftover(item.region, item.kind, item.identifier, item.found_by, pending)


@contextmanager
def _reading(service: str, region: str, operation: str) -> Iterator[None]:
    """A failed AWS call as an AuditError naming the service, region and call."""
    from botocore.exceptions import BotoCoreError, ClientError

    where = f"{service} in {region} ({operation})"
    try:
        yield
    except ClientError as error:
        details = error.response.get("Error", {})
        code = details.get("Code") or "error"
        message = details.get("Message") or str(error)
        raise AuditError(f"cannot read {where}: {code}: {message}", code) from None
    except BotoCoreError as error:
        raise AuditError(f"cannot read {where}: {error}") from None
