"""Mocks that stand in for AWS under the offline plan and the unit tests.

Each resource gets back its inputs plus the computed outputs AWS would return (ids, ARNs,
names), shaped like the real thing, so that inputs built from them (bucket policies that
name a bucket ARN, routes that name a NAT id) are known in the plan rather than unknown.
Ids are derived from the resource's name, so two runs give the same plan.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pulumi

from airflow_platform.plan.regions import availability_zones

PLACEHOLDER_ACCOUNT_ID = "123456789012"

# Type token -> (id prefix, ARN service, ARN resource template). {id} and {name} are filled.
_SHAPES: dict[str, tuple[str, str, str]] = {
    "aws:ec2/vpc:Vpc": ("vpc-", "ec2", "vpc/{id}"),
    "aws:ec2/subnet:Subnet": ("subnet-", "ec2", "subnet/{id}"),
    "aws:ec2/routeTable:RouteTable": ("rtb-", "ec2", "route-table/{id}"),
    "aws:ec2/internetGateway:InternetGateway": ("igw-", "ec2", "internet-gateway/{id}"),
    "aws:ec2/natGateway:NatGateway": ("nat-", "ec2", "natgateway/{id}"),
    "aws:ec2/eip:Eip": ("eipalloc-", "ec2", "elastic-ip/{id}"),
    "aws:ec2/securityGroup:SecurityGroup": ("sg-", "ec2", "security-group/{id}"),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": ("sg-", "ec2", "security-group/{id}"),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": (
        "sgr-",
        "ec2",
        "security-group-rule/{id}",
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": (
        "sgr-",
        "ec2",
        "security-group-rule/{id}",
    ),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("vpce-", "ec2", "vpc-endpoint/{id}"),
    "aws:ec2/flowLog:FlowLog": ("fl-", "ec2", "vpc-flow-log/{id}"),
    "aws:kms/key:Key": ("", "kms", "key/{id}"),
    "aws:kms/alias:Alias": ("", "kms", "{name}"),
    "aws:iam/role:Role": ("", "iam", "role/{name}"),
    "aws:iam/policy:Policy": ("", "iam", "policy/{name}"),
    "aws:cloudwatch/logGroup:LogGroup": ("", "logs", "log-group:{name}"),
    # An RDS instance's id is its resource id (db-...); its ARN names its identifier.
    "aws:rds/instance:Instance": ("db-", "rds", "db:{name}"),
    "aws:rds/subnetGroup:SubnetGroup": ("", "rds", "subgrp:{name}"),
    "aws:rds/parameterGroup:ParameterGroup": ("", "rds", "pg:{name}"),
    "aws:mwaa/environment:Environment": ("", "airflow", "environment/{name}"),
    # An EKS cluster's id is its name; access entries answer `accessEntryArn` (below).
    "aws:eks/cluster:Cluster": ("", "eks", "cluster/{name}"),
    # Secrets Manager appends six random characters to a secret's name in its ARN.
    "aws:secretsmanager/secret:Secret": ("", "secretsmanager", "secret:{name}-{suffix}"),
    "aws:ecr/repository:Repository": ("", "ecr", "repository/{name}"),
    "aws:sns/topic:Topic": ("", "sns", "{name}"),
    "aws:sqs/queue:Queue": ("", "sqs", "{name}"),
    "aws:lambda/function:Function": ("", "lambda", "function:{name}"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("", "cloudwatch", "alarm:{name}"),
    "aws:cloudwatch/eventRule:EventRule": ("", "events", "rule/{name}"),
    "aws:scheduler/schedule:Schedule": ("", "scheduler", "schedule/default/{name}"),
}
# Resources whose `name` AWS reports back (auto-named ones get their logical name here).
_NAMED_TYPES = {
    "aws:iam/role:Role",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:rds/subnetGroup:SubnetGroup",
    "aws:rds/parameterGroup:ParameterGroup",
}
_AWS_PROVIDER = "pulumi:providers:aws"
_RANDOM_ID = "random:index/randomId:RandomId"
_RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"  # noqa: S105 - a type token
_RANDOM_BYTES = "random:index/randomBytes:RandomBytes"
_EKS_CLUSTER = "aws:eks/cluster:Cluster"
_EKS_ACCESS_ENTRY = "aws:eks/accessEntry:AccessEntry"
_EKS_ACCESS_POLICY_ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
_ECR_REPOSITORY = "aws:ecr/repository:Repository"
_DOCKER_IMAGE = "docker-build:index:Image"
_KUBERNETES_SERVICE = "kubernetes:core/v1:Service"
_IMAGE_BUILD_INPUTS = ("tags", "buildArgs", "platforms", "context", "dockerfile", "target")
# Inputs that name the resource: the id AWS gives it is that name.
_NAME_INPUTS = ("bucket", "name", "functionName", "identifier", "roleName")
_GLOBAL_SERVICES = {"iam", "s3"}


class PlanMocks(pulumi.runtime.Mocks):
    """Plausible AWS answers for one account and region."""

    def __init__(self, region: str, account_id: str = PLACEHOLDER_ACCOUNT_ID) -> None:
        self.region = region
        self.account_id = account_id
        # Explicit providers (a second region) by the id the mocks gave them.
        self._provider_regions: dict[str, str] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if not args.custom:
            return "", {}
        inputs = dict(args.inputs)
        region = self._region_of(args.provider)
        prefix, service, template = _SHAPES.get(args.typ, ("", "", ""))
        named = next((inputs[k] for k in _NAME_INPUTS if isinstance(inputs.get(k), str)), None)
        if named is not None and not prefix:
            resource_id = named
        else:
            digest = hashlib.sha256(f"{args.typ}::{args.name}".encode()).hexdigest()
            resource_id = f"{prefix}{digest[:17]}" if prefix else digest[:32]
        state: dict[str, Any] = {"id": resource_id, **inputs}
        name = named or args.name
        if args.typ == _AWS_PROVIDER:
            self._provider_regions[resource_id] = str(inputs.get("region") or self.region)
        if args.typ == "aws:s3/bucket:Bucket":
            state |= {
                "bucket": resource_id,
                "arn": f"arn:aws:s3:::{resource_id}",
                "bucketDomainName": f"{resource_id}.s3.amazonaws.com",
                "bucketRegionalDomainName": f"{resource_id}.s3.{region}.amazonaws.com",
                "region": region,
            }
        elif service:
            suffix = hashlib.sha256(name.encode()).hexdigest()[:6]
            resource = template.format(id=resource_id, name=name, suffix=suffix)
            state.setdefault("arn", self._arn(service, resource, region))
        if args.typ == "aws:kms/key:Key":
            state["keyId"] = resource_id
        if args.typ == "aws:ec2/eip:Eip":
            state["allocationId"] = resource_id
            state["publicIp"] = "203.0.113.10"
        if args.typ in _NAMED_TYPES:
            state.setdefault("name", name)
        if args.typ == "aws:rds/instance:Instance":
            state |= self._rds_instance(resource_id, name, inputs, region)
        if args.typ == "aws:s3/bucketObjectv2:BucketObjectv2":
            state |= _bucket_object(inputs)
        if args.typ == _RANDOM_ID:
            state |= _random_id(args.name, inputs)
        if args.typ in (_RANDOM_PASSWORD, _RANDOM_BYTES):
            state |= _random_material(args.typ, args.name, inputs)
        if args.typ == _ECR_REPOSITORY:
            state |= {
                "registryId": self.account_id,
                "repositoryUrl": f"{self._ecr_registry(region)}/{name}",
            }
        if args.typ == "aws:ecr/lifecyclePolicy:LifecyclePolicy":
            state["registryId"] = self.account_id
        if args.typ == _DOCKER_IMAGE:
            state |= _docker_image(inputs)
        if args.typ == _EKS_CLUSTER:
            state |= self._eks_cluster(name, inputs, region)
        if args.typ == _EKS_ACCESS_ENTRY:
            state |= self._eks_access_entry(inputs, region)
        if args.typ == _EKS_ACCESS_POLICY_ASSOCIATION:
            state["associatedAt"] = _EKS_TIMESTAMP
        if args.typ == "aws:sqs/queue:Queue":
            state["url"] = f"https://sqs.{region}.amazonaws.com/{self.account_id}/{name}"
        if args.typ == "aws:cloudwatch/dashboard:Dashboard":
            dashboard = inputs.get("dashboardName", name)
            state["dashboardArn"] = f"arn:aws:cloudwatch::{self.account_id}:dashboard/{dashboard}"
        if args.typ == "aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration":
            configuration = inputs.get("configurationName", name)
            state["chatConfigurationArn"] = (
                f"arn:aws:chatbot::{self.account_id}:chat-configuration/slack-channel/"
                f"{configuration}"
            )
        if args.typ == _KUBERNETES_SERVICE:
            state |= _load_balancer_status(inputs, region)
        if args.typ == "aws:mwaa/environment:Environment":
            label = hashlib.sha256(f"{self.account_id}:{name}".encode()).hexdigest()
            state["webserverUrl"] = f"{label[:8]}-{label[8:12]}.c2.{region}.airflow.amazonaws.com"
        return resource_id, state

    def _rds_instance(
        self, resource_id: str, identifier: str, inputs: dict[str, Any], region: str
    ) -> dict[str, Any]:
        # The endpoint's middle label is fixed per account and region in AWS.
        label = hashlib.sha256(f"{self.account_id}:{region}".encode()).hexdigest()[:12]
        address = f"{identifier}.{label}.{region}.rds.amazonaws.com"
        port = int(inputs.get("port") or 5432)
        suffix = hashlib.sha256(resource_id.encode()).hexdigest()[:6]
        secret_key = inputs.get("masterUserSecretKmsKeyId") or self._arn(
            "kms", "alias/aws/secretsmanager", region
        )
        return {
            "resourceId": resource_id,
            "address": address,
            "port": port,
            "endpoint": f"{address}:{port}",
            "masterUserSecrets": [
                {
                    "secretArn": self._arn(
                        "secretsmanager", f"secret:rds!{resource_id}-{suffix}", region
                    ),
                    "secretStatus": "active",
                    "kmsKeyId": secret_key,
                }
            ],
        }

    def _eks_cluster(self, name: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
        """What DescribeCluster answers: the API endpoint (a per-cluster label under
        `gr7.<region>.eks.amazonaws.com`), the CA bundle (base64 PEM), the OIDC issuer, the
        cluster security group EKS creates, and ACTIVE."""
        label = hashlib.sha256(f"{self.account_id}:{region}:{name}".encode()).hexdigest()
        pem = (
            "-----BEGIN CERTIFICATE-----\n"
            + base64.b64encode(f"offline plan CA of {name}".encode()).decode()
            + "\n-----END CERTIFICATE-----\n"
        )
        vpc_config = dict(inputs.get("vpcConfig") or {})
        vpc_config |= {"clusterSecurityGroupId": f"sg-{label[:17]}", "vpcId": f"vpc-{label[17:34]}"}
        cluster_id = label[:32].upper()
        issuer = f"https://oidc.eks.{region}.amazonaws.com/id/{cluster_id}"
        return {
            "endpoint": f"https://{cluster_id}.gr7.{region}.eks.amazonaws.com",
            "certificateAuthority": {"data": base64.b64encode(pem.encode()).decode()},
            "identities": [{"oidcs": [{"issuer": issuer}]}],
            "vpcConfig": vpc_config,
            "status": "ACTIVE",
            "platformVersion": "eks.1",
            "createdAt": _EKS_TIMESTAMP,
        }

    def _eks_access_entry(self, inputs: dict[str, Any], region: str) -> dict[str, Any]:
        """An access entry's ARN names the cluster, the principal's type, account and name,
        and a UUID EKS generates (Service Authorization Reference, Amazon EKS, `access-entry`)."""
        principal = str(inputs.get("principalArn") or "")
        parts = principal.split(":", 5)
        account, kind_and_name = (parts[4], parts[5]) if len(parts) == 6 else ("", "")
        kind, _, path_and_name = kind_and_name.partition("/")
        digest = hashlib.sha256(f"{inputs.get('clusterName')}:{principal}".encode()).hexdigest()
        uuid = f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
        resource = (
            f"access-entry/{inputs.get('clusterName')}/{kind}/{account}/"
            f"{path_and_name.rsplit('/', 1)[-1]}/{uuid}"
        )
        return {
            "accessEntryArn": self._arn("eks", resource, region),
            "createdAt": _EKS_TIMESTAMP,
            "modifiedAt": _EKS_TIMESTAMP,
        }

    def _region_of(self, provider: str | None) -> str:
        # Provider references are "<urn>::<id>"; the default provider is the stack's region.
        if not provider:
            return self.region
        return self._provider_regions.get(provider.rsplit("::", 1)[-1], self.region)

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        answers = {
            "aws:index/getCallerIdentity:getCallerIdentity": self._caller_identity,
            "aws:index/getAvailabilityZones:getAvailabilityZones": self._availability_zones,
            "aws:index/getRegion:getRegion": self._region,
            "aws:ecr/getAuthorizationToken:getAuthorizationToken": lambda: (
                self._ecr_authorization_token(args.args)
            ),
        }
        if args.token not in answers:
            raise NotImplementedError(
                f"the offline plan has no answer for {args.token}; add one to PlanMocks.call"
            )
        return answers[args.token]()

    def _caller_identity(self) -> dict[str, Any]:
        return {
            "accountId": self.account_id,
            "arn": f"arn:aws:iam::{self.account_id}:user/plan",
            "userId": "AIDAPLANOFFLINE",
            "id": self.account_id,
        }

    def _availability_zones(self) -> dict[str, Any]:
        # The region's real zones, so `network.azCount` beyond them fails here as it would
        # at deploy time (the program checks the count against this answer).
        names = list(availability_zones(self.region))
        return {
            "names": names,
            "zoneIds": [f"{self.region[:3]}-az{n}" for n in range(1, len(names) + 1)],
            "id": self.region,
        }

    def _region(self) -> dict[str, Any]:
        return {"name": self.region, "region": self.region, "id": self.region}

    def _ecr_registry(self, region: str) -> str:
        return f"{self.account_id}.dkr.ecr.{region}.amazonaws.com"

    def _ecr_authorization_token(self, args: dict[str, Any]) -> dict[str, Any]:
        # ECR's answer: user AWS, a password, the two joined in a base64 token (12 hours).
        region = str(args.get("region") or self.region)
        password = hashlib.sha256(f"ecr:{self.account_id}:{region}".encode()).hexdigest()
        return {
            "authorizationToken": base64.b64encode(f"AWS:{password}".encode()).decode(),
            "userName": "AWS",
            "password": password,
            "proxyEndpoint": f"https://{self._ecr_registry(region)}",
            "expiresAt": "2000-01-01T12:00:00Z",
            "registryId": str(args.get("registryId") or self.account_id),
            "region": region,
            "id": region,
        }

    def _arn(self, service: str, resource: str, region: str | None = None) -> str:
        where = "" if service in _GLOBAL_SERVICES else (region or self.region)
        return f"arn:aws:{service}:{where}:{self.account_id}:{resource}"


# EKS reports creation times; a fixed one keeps the plan reproducible.
_EKS_TIMESTAMP = "2026-01-01T00:00:00Z"


def _bucket_object(inputs: dict[str, Any]) -> dict[str, Any]:
    """A versioned bucket's answer to an upload: a version id and ETag that change exactly
    when the content does, so what reads the version (MWAA) changes with it in the plan."""
    content = inputs.get("contentBase64") or inputs.get("content") or inputs.get("sourceHash")
    digest = hashlib.sha256(json.dumps([inputs.get("key"), content]).encode()).hexdigest()
    return {"versionId": digest[:32], "etag": digest[32:64]}


def _docker_image(inputs: dict[str, Any]) -> dict[str, Any]:
    """pulumi-docker-build's Image after a push: a digest that is the same for the same build
    (tags, build arguments, platforms, context, Dockerfile; never the registry credentials),
    and `ref`, the first tag with that digest, as the provider reports it."""
    build = {key: inputs.get(key) for key in _IMAGE_BUILD_INPUTS}
    digest = "sha256:" + hashlib.sha256(json.dumps(build, sort_keys=True).encode()).hexdigest()
    tags = inputs.get("tags") or []
    return {"digest": digest, "ref": f"{tags[0]}@{digest}" if tags else ""}


def _random_id(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """pulumi-random's RandomId: stable for the same name and keepers, new when a keeper
    changes (as a replacement would generate), in each encoding the provider returns."""
    size = int(inputs.get("byteLength") or 8)
    seed = json.dumps([name, inputs.get("keepers"), inputs.get("prefix")], sort_keys=True)
    raw = hashlib.sha256(seed.encode()).digest()[:size]
    b64_url = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return {
        "id": b64_url,
        "hex": f"{inputs.get('prefix') or ''}{raw.hex()}",
        "b64Url": b64_url,
        "b64Std": base64.b64encode(raw).decode(),
        "dec": str(int.from_bytes(raw, "big")),
    }


def _random_material(token: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """pulumi-random's RandomPassword (`result`) and RandomBytes (`base64`, `hex`): stable per
    name and keepers, never anything real (the plan shows the provider's secrets as such)."""
    length = int(inputs.get("length") or 16)
    seed = json.dumps([name, inputs.get("keepers")], sort_keys=True).encode()
    stream = b"".join(hashlib.sha256(seed + bytes([i])).digest() for i in range(length // 32 + 1))
    raw = stream[:length]
    if token == _RANDOM_BYTES:
        return {"base64": base64.b64encode(raw).decode(), "hex": raw.hex()}
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return {"result": "".join(alphabet[b % len(alphabet)] for b in raw)}


def _load_balancer_status(inputs: dict[str, Any], region: str) -> dict[str, Any]:
    """A LoadBalancer Service's status once its load balancer exists (pulumi-kubernetes waits
    for `.status.loadBalancer.ingress` before it reports the Service created): the NLB's DNS
    name, `<name>-<id>.elb.<region>.amazonaws.com`, stable for the same namespace and name."""
    spec = inputs.get("spec") or {}
    if spec.get("type") != "LoadBalancer":
        return {}
    metadata = inputs.get("metadata") or {}
    key = f"{metadata.get('namespace')}/{metadata.get('name')}"
    digest = hashlib.sha256(key.encode()).hexdigest()
    hostname = f"k8s-{digest[:8]}-{digest[8:18]}-{digest[18:34]}.elb.{region}.amazonaws.com"
    return {"status": {"loadBalancer": {"ingress": [{"hostname": hostname}]}}}
