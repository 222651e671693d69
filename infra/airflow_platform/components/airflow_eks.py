"""AirflowOnEks: Airflow on the stack's EKS cluster, through the official Helm chart.

Everything here lives in the cluster (through the Kubernetes provider the program builds
from the cluster's kubeconfig) or binds the cluster to AWS:

- the namespace, and the task node pool (spot where the tier allows it);
- one IAM role per Airflow service account through EKS Pod Identity (`PodIdentities`);
- the secrets the chart reads by name, generated once per stack (pulumi-random) and kept as
  Pulumi secrets: the Fernet key, the API secret key, the JWT secret, the metadata
  connection, PgBouncer's config; no secret value is ever in the chart's values;
- Airflow's own database login (`platform_ops.metadata_user`, a Job run before the chart):
  RDS rotates the master password, so Airflow never uses it (docs/eks.md);
- the Helm release of the pinned chart, its values from `helm.values.chart_values`;
- the API server's in-VPC endpoint: an internal Network Load Balancer that EKS Auto Mode
  provisions for a Service of type LoadBalancer, with a security group of its own that admits
  nothing until a client's rule is added (the health probe's, by the monitoring component).

The endpoint. Auto Mode's load balancing makes an NLB for a `LoadBalancer` Service of class
`eks.amazonaws.com/nlb`, configured by annotations (EKS User Guide, "Use Service Annotations to
configure Network Load Balancers"): `internal` scheme, IP targets (the API server pods
themselves), an HTTP health check on the API's `/api/v2/monitor/health`, and the stack's tags
(which Auto Mode may only set with the cluster role's `auto-mode-tags` policy, components/eks.py).
Its frontend security group is `api_security_group_id`, given by the
`aws-load-balancer-security-groups` annotation: the AWS Load Balancer Controller's annotation
("Security Groups for Load Balancers": a custom frontend group replaces the one it would create,
and it then leaves backend rules alone). Auto Mode's NLB table does not list that annotation
("EKS Auto Mode may not support all annotations"), so the backend path is declared here rather
than left to the controller: the group may send to the cluster security group on the API port,
and the cluster security group (on every Auto Mode pod) admits it there. Auto Mode supports NLBs
in security-group mode only (EKS User Guide, "Learn about VPC Networking and Load Balancing in
EKS Auto Mode"). After a deploy, `aws elbv2 describe-load-balancers` must show this group on the
NLB (docs/eks.md): were the annotation ignored, the NLB would get a group of its own and the
probe's rule would admit nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as kubernetes
import pulumi_random as random

from airflow_platform.aws_context import AwsContext
from airflow_platform.components.eks import node_role_name
from airflow_platform.components.pod_identity import (
    ARCHIVE_LOGS,
    PUT_BACKUP_METRICS,
    READ_DAGS,
    READ_MASTER_SECRET,
    READ_SECRETS,
    READ_TASK_LOGS,
    WRITE_BACKUPS,
    WRITE_TASK_LOGS,
    PodIdentities,
    PodIdentitiesArgs,
)
from airflow_platform.config.model import Tier
from airflow_platform.helm import values as chart
from airflow_platform.helm.pgbouncer import pgbouncer_config
from airflow_platform.tagging import resource_tags, without_expiry
from airflow_platform.task_pool import task_node_class

METADATA_USER_SERVICE_ACCOUNT = "airflow-metadata-user"
METADATA_USER_SECRET_NAME = "airflow-metadata-user"  # noqa: S105 - a secret's name
APP_DB_USER = "airflow_app"

# The official chart's API server (1.22.0): container port `api-server` on `ports.apiServer`,
# 8080 by default, and the labels its Deployment gives every pod: `tier: airflow`, `component:
# api-server`, `release: <release>` (chart/templates/api-server/api-server-deployment.yaml;
# the chart's own ClusterIP Service selects the same three in api-server-service.yaml). The
# execution API server of `splitApiServersIntoCoreAndExecution` is `component:
# execution-api-server`, so it is never selected here.
API_SERVER_PORT = 8080
API_SERVER_PORT_NAME = "api-server"
API_HEALTH_PATH = "/api/v2/monitor/health"
"""The chart's own liveness, readiness and startup probes' path on the API server."""
NLB_CLASS = "eks.amazonaws.com/nlb"
"""Auto Mode's load balancer class for NLB Services (EKS User Guide, "Use Service Annotations
to configure Network Load Balancers": also the cluster default, stated so it is never
another controller's)."""
_LB = "service.beta.kubernetes.io/aws-load-balancer-"

# What each service account may do (pod_identity's grants): task pods run the platform's
# DAGs (backups, log archives, metrics); only the DAG processor and task pods read DAGs.
GRANTS: dict[str, tuple[str, ...]] = {
    chart.SCHEDULER_SERVICE_ACCOUNT: (READ_SECRETS,),
    chart.API_SERVER_SERVICE_ACCOUNT: (READ_SECRETS, READ_TASK_LOGS),
    chart.DAG_PROCESSOR_SERVICE_ACCOUNT: (READ_SECRETS, READ_DAGS),
    chart.TRIGGERER_SERVICE_ACCOUNT: (READ_SECRETS, WRITE_TASK_LOGS),
    chart.WORKER_SERVICE_ACCOUNT: (
        READ_SECRETS,
        READ_DAGS,
        WRITE_TASK_LOGS,
        WRITE_BACKUPS,
        ARCHIVE_LOGS,
        PUT_BACKUP_METRICS,
    ),
    METADATA_USER_SERVICE_ACCOUNT: (READ_MASTER_SECRET,),
}


@dataclass(frozen=True)
class AirflowOnEksArgs:
    """Inputs of AirflowOnEks."""

    stack: str
    """Stack name: the release is `airflow-<stack>`, role names carry it."""
    tier: Tier
    """Sizes, replicas and the create-user job follow it."""
    aws: AwsContext
    """Account and region."""
    cluster_name: pulumi.Input[str]
    """The EKS cluster."""
    cluster_arn: pulumi.Input[str]
    """Its ARN (the pod roles trust this cluster only)."""
    settings: Mapping[str, Mapping[str, Any]]
    """The production Airflow settings (`airflow_settings.production_settings`, eks)."""
    image_repository: pulumi.Input[str]
    """The image's repository (ECR), without tag or digest."""
    image_tag: str
    """The tag it was pushed with (its content hash)."""
    image_digest: pulumi.Input[str]
    """`sha256:...`: what every pod runs."""
    database_address: pulumi.Input[str]
    """The RDS instance's host name."""
    database_port: int
    """Its port."""
    database_name: str
    """The metadata database."""
    master_secret_arn: pulumi.Input[str]
    """The RDS-managed master secret, read only by the metadata-user Job."""
    dag_bucket_arn: pulumi.Input[str]
    """DAGs under `dags/`."""
    log_archive_bucket_arn: pulumi.Input[str]
    """Task logs and log archives."""
    backup_bucket_arn: pulumi.Input[str]
    """Metadata backups."""
    task_node_pool: Mapping[str, Any]
    """The task pods' NodePool manifest (components.eks.task_node_pool)."""
    tags: Mapping[str, str]
    """The stack's tags (AWS resources)."""
    namespace: str = "airflow"
    """The namespace of the release and its service accounts."""
    kms_key_arn: pulumi.Input[str] | None = None
    """The project key (prod)."""
    wait_for: Sequence[pulumi.Resource] = ()
    """What the release must wait for beyond this component (the DAG objects: the DAG
    processor's first bundle sync fails on an empty prefix)."""
    vpc_id: pulumi.Input[str] | None = None
    """The cluster's VPC: the API endpoint's security group is made there. With
    `cluster_security_group_id`, required for the endpoint (`api_url`); without both there
    is none."""
    cluster_security_group_id: pulumi.Input[str] | None = None
    """The cluster security group (`EksCluster.security_group_id`), on every Auto Mode pod:
    it admits the NLB on the API port."""


def _secret(
    name: str, namespace: str, data: Mapping[str, pulumi.Input[str]], opts: pulumi.ResourceOptions
) -> kubernetes.core.v1.Secret:
    return kubernetes.core.v1.Secret(
        name,
        metadata={"name": name, "namespace": namespace},
        type="Opaque",
        string_data={key: pulumi.Output.secret(value) for key, value in data.items()},
        opts=opts,
    )


def api_server_selector(release_name: str) -> dict[str, str]:
    """The labels of the chart's API server pods of one release."""
    return {"tier": "airflow", "component": "api-server", "release": release_name}


def api_service_annotations(security_group_id: str, tags: Mapping[str, str]) -> dict[str, str]:
    """The Service annotations of the internal NLB (EKS User Guide, "Use Service Annotations
    to configure Network Load Balancers", its table of annotations Auto Mode supports, but for
    `security-groups`: see the module docstring).

    The backend rule annotation (`manage-backend-security-group-rules`) is left unset on
    purpose: the rule is declared in the stack, and should the custom group not be honoured,
    the default lets the controller open the path for the group it makes instead."""
    return {
        f"{_LB}scheme": "internal",
        # IP targets: the NLB sends to the pods' own addresses (Auto Mode's default; the
        # backend rule is written for it).
        f"{_LB}nlb-target-type": "ip",
        # The pods see the NLB's own address, so the backend rule that admits the NLB's group
        # is the one that matters (already the default for TCP to IP targets: ELB User Guide,
        # "Edit target group attributes for your Network Load Balancer", client IP
        # preservation; the annotation is Auto Mode's, per "Use Service Annotations to
        # configure Network Load Balancers").
        f"{_LB}target-group-attributes": "preserve_client_ip.enabled=false",
        f"{_LB}healthcheck-protocol": "HTTP",
        f"{_LB}healthcheck-path": API_HEALTH_PATH,
        f"{_LB}healthcheck-port": "traffic-port",
        f"{_LB}security-groups": security_group_id,
        f"{_LB}additional-resource-tags": tag_annotation(tags),
    }


STORAGE_CLASS = "airflow-platform-gp3"
EBS_PROVISIONER = "ebs.csi.eks.amazonaws.com"


def tagged_storage_class(tags: Mapping[str, str]) -> dict[str, Any]:
    """The cluster's default StorageClass: encrypted gp3 volumes from Auto Mode's block
    storage, tagged with the stack's tags.

    Auto Mode creates no StorageClass, and a volume comes only from one that names its
    provisioner `ebs.csi.eks.amazonaws.com` (EKS User Guide, "Create a storage class", whose
    example this follows: default class, `WaitForFirstConsumer`, gp3, encrypted). The chart
    asks for no volume today (the triggerer's persistence is off), but a DAG's pod may claim
    one, and a volume a claim made outlives `pulumi destroy` of the cluster: its
    `tagSpecification_<n>: "key=value"` parameters (the same page, "Custom Tags on Dynamically
    Provisioned Volumes"; the EBS CSI driver's `docs/tagging.md`) put the stack's tags on it so
    the reaper and the audit find it. The cluster role's `Storage` permission lets Auto Mode
    tag them (`components.eks`). Deleted with its claim (`reclaimPolicy: Delete`).
    """
    for key, value in tags.items():
        if "=" in key or "=" in value:
            raise ValueError(
                f"tag {key}={value!r}: a volume tag cannot hold '=' (tagSpecification values "
                "are key=value)"
            )
    specs = {
        f"tagSpecification_{index}": f"{key}={tags[key]}"
        for index, key in enumerate(sorted(tags), start=1)
    }
    return {
        "metadata": {
            "name": STORAGE_CLASS,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": EBS_PROVISIONER,
        "volumeBindingMode": "WaitForFirstConsumer",
        "reclaimPolicy": "Delete",
        "parameters": {"type": "gp3", "encrypted": "true", **specs},
    }


def tag_annotation(tags: Mapping[str, str]) -> str:
    """Tags as the `k1=v1,k2=v2` string map of `additional-resource-tags` (AWS Load Balancer
    Controller, Service annotations: "stringMap: k1=v1,k2=v2"). A tag holding `,` or `=` cannot
    be written unambiguously: refused, rather than put on the NLB cut in two."""
    for key, value in tags.items():
        if any(mark in key or mark in value for mark in ",="):
            raise ValueError(
                f"tag {key}={value!r}: load balancer tags cannot hold ',' or '=' "
                "(aws-load-balancer-additional-resource-tags is a k=v,k=v list)"
            )
    return ",".join(f"{key}={tags[key]}" for key in sorted(tags))


def api_url(status: Any) -> str:
    """`http://<NLB hostname>:8080` from a Service's status (an output object, or the dict
    a mock answers)."""

    def field(obj: Any, snake: str, camel: str) -> Any:
        # Output types are dicts too, keyed by camelCase, but warn when read as such.
        if isinstance(getattr(type(obj), snake, None), property):
            return getattr(obj, snake)
        if isinstance(obj, Mapping):
            return obj.get(camel, obj.get(snake))
        return None

    balancer = field(status, "load_balancer", "loadBalancer") if status is not None else None
    ingress = (field(balancer, "ingress", "ingress") if balancer is not None else None) or []
    hostname = field(ingress[0], "hostname", "hostname") if ingress else None
    if not hostname:
        raise ValueError("the API Service has no load balancer hostname in its status")
    return f"http://{hostname}:{API_SERVER_PORT}"


def fernet_key(random_base64: pulumi.Input[str]) -> pulumi.Output[str]:
    """A Fernet key from 32 random bytes in standard base64: Fernet takes them URL-safe."""
    return pulumi.Output.from_input(random_base64).apply(
        lambda text: text.replace("+", "-").replace("/", "_")
    )


class AirflowOnEks(pulumi.ComponentResource):
    """The namespace, node pool, pod identities, secrets, metadata login, Helm release and
    the API server's in-VPC endpoint.

    Outputs: `namespace`, `release_name`, `role_arns` (service account to IAM role),
    `api_url` (`http://<internal NLB>:8080`, None without `vpc_id`), `api_security_group_id`
    (the NLB's security group, no ingress of its own; None without `vpc_id`).
    """

    namespace: str
    release_name: str
    role_arns: dict[str, pulumi.Output[str]]
    api_url: pulumi.Output[str] | None
    api_security_group_id: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: AirflowOnEksArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("airflow-platform:aws:AirflowOnEks", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.namespace = args.namespace
        self.release_name = f"airflow-{args.stack}"
        namespace = kubernetes.core.v1.Namespace(
            f"{name}-namespace", metadata={"name": args.namespace}, opts=child
        )
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=[namespace])
        node_class_manifest = task_node_class(
            args.cluster_name, node_role_name(args.stack), without_expiry(args.tags)
        )
        node_class = kubernetes.apiextensions.CustomResource(
            f"{name}-task-node-class",
            api_version=node_class_manifest["apiVersion"],
            kind=node_class_manifest["kind"],
            metadata=node_class_manifest["metadata"],
            spec=node_class_manifest["spec"],
            opts=child,
        )
        node_pool = kubernetes.apiextensions.CustomResource(
            f"{name}-task-node-pool",
            api_version=args.task_node_pool["apiVersion"],
            kind=args.task_node_pool["kind"],
            metadata=args.task_node_pool["metadata"],
            spec=args.task_node_pool["spec"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[node_class]),
        )
        storage = tagged_storage_class(without_expiry(args.tags))
        kubernetes.storage.v1.StorageClass(
            f"{name}-storage-class",
            metadata=storage["metadata"],
            provisioner=storage["provisioner"],
            volume_binding_mode=storage["volumeBindingMode"],
            reclaim_policy=storage["reclaimPolicy"],
            parameters=storage["parameters"],
            # The API server refuses any change to a StorageClass but its metadata (Kubernetes
            # "Storage Classes": "the objects cannot be updated once they are created"), and
            # a changed tag set replaces the class (same name, so the old one goes first); its
            # tags leave out the ephemeral expiry, which moves on every deploy
            # (tagging.without_expiry). Volumes already made keep their tags; the class only
            # shapes new ones.
            opts=pulumi.ResourceOptions(
                parent=self,
                replace_on_changes=[
                    "parameters",
                    "provisioner",
                    "reclaimPolicy",
                    "volumeBindingMode",
                ],
                delete_before_replace=True,
            ),
        )
        identities = PodIdentities(
            f"{name}-pods",
            PodIdentitiesArgs(
                stack=args.stack,
                aws=args.aws,
                cluster_name=args.cluster_name,
                cluster_arn=args.cluster_arn,
                namespace=args.namespace,
                grants=GRANTS,
                dag_bucket_arn=args.dag_bucket_arn,
                log_archive_bucket_arn=args.log_archive_bucket_arn,
                backup_bucket_arn=args.backup_bucket_arn,
                master_secret_arn=args.master_secret_arn,
                tags=args.tags,
                kms_key_arn=args.kms_key_arn,
            ),
            opts=child,
        )
        self.role_arns = identities.role_arns

        inputs = chart.ChartInputs(
            image_repository=args.image_repository,
            image_tag=args.image_tag,
            image_digest=args.image_digest,
            namespace=args.namespace,
            release_name=self.release_name,
        )
        secrets, password_version = self._secrets(name, args, inputs, in_namespace)
        login = self._metadata_user_job(
            name, args, in_namespace, [*secrets, identities], password_version
        )

        # Checked against the chart's schema once the digest and bucket names are known.
        values = chart.chart_values_output(args.settings, args.tier, inputs)
        release = kubernetes.helm.v3.Release(
            f"{name}-release",
            name=self.release_name,
            chart=chart.CHART_NAME,
            version=chart.chart_version(),
            repository_opts={"repo": chart.CHART_REPOSITORY},
            namespace=args.namespace,
            values=values,
            # Wait for every workload to be ready; a failed upgrade rolls back.
            atomic=True,
            cleanup_on_fail=True,
            timeout=1200,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[namespace, node_pool, identities, login, *secrets, *args.wait_for],
            ),
        )
        self.api_url = None
        self.api_security_group_id = None
        if args.vpc_id is not None or args.cluster_security_group_id is not None:
            if args.vpc_id is None or args.cluster_security_group_id is None:
                raise ValueError("the API endpoint needs both vpc_id and cluster_security_group_id")
            group, service = self._api_endpoint(
                name, args, args.vpc_id, args.cluster_security_group_id, [namespace, release]
            )
            self.api_security_group_id = group.id
            self.api_url = service.status.apply(api_url)
        self.register_outputs(
            {
                "namespace": self.namespace,
                "release_name": release.name,
                "role_arns": self.role_arns,
                "api_url": self.api_url,
                "api_security_group_id": self.api_security_group_id,
            }
        )

    def _api_endpoint(
        self,
        name: str,
        args: AirflowOnEksArgs,
        vpc_id: pulumi.Input[str],
        cluster_group_id: pulumi.Input[str],
        after: Sequence[pulumi.Resource],
    ) -> tuple[aws.ec2.SecurityGroup, kubernetes.core.v1.Service]:
        """The NLB's security group, its path to the pods, and the Service Auto Mode turns
        into an internal NLB."""
        # A tag the annotation cannot carry fails the program here, not inside an apply.
        tag_annotation(args.tags)
        aws_child = pulumi.ResourceOptions(parent=self)
        label = f"{self.release_name}-api"
        # No ingress rule: who may call the API is decided by the client's component, which
        # adds its own rule here (HealthProbe). The provider drops AWS's default allow-all
        # egress, so the one egress below is all the NLB may send.
        group = aws.ec2.SecurityGroup(
            f"{name}-api-sg",
            vpc_id=vpc_id,
            description=f"Internal NLB of the Airflow API of {self.release_name}",
            tags=resource_tags(args.tags, label),
            opts=aws_child,
        )
        port = {"ip_protocol": "tcp", "from_port": API_SERVER_PORT, "to_port": API_SERVER_PORT}
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-api-sg-to-pods",
            security_group_id=group.id,
            referenced_security_group_id=cluster_group_id,
            description="Requests and health checks to the API server pods",
            tags=resource_tags(args.tags, f"{label}-to-pods"),
            opts=pulumi.ResourceOptions(parent=group),
            **port,
        )
        backend = aws.vpc.SecurityGroupIngressRule(
            f"{name}-pods-from-api-sg",
            security_group_id=cluster_group_id,
            referenced_security_group_id=group.id,
            description=f"API server pods from the internal NLB of {self.release_name}",
            tags=resource_tags(args.tags, f"{label}-backend"),
            opts=pulumi.ResourceOptions(parent=group),
            **port,
        )
        service = kubernetes.core.v1.Service(
            f"{name}-api",
            metadata={
                "name": f"{label}-nlb",
                "namespace": args.namespace,
                "annotations": group.id.apply(
                    lambda group_id: api_service_annotations(group_id, args.tags)
                ),
            },
            spec={
                "type": "LoadBalancer",
                "loadBalancerClass": NLB_CLASS,
                "selector": api_server_selector(self.release_name),
                "ports": [
                    {
                        "name": API_SERVER_PORT_NAME,
                        "port": API_SERVER_PORT,
                        "targetPort": API_SERVER_PORT_NAME,
                        "protocol": "TCP",
                    }
                ],
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                # The provider waits for ready endpoints and the NLB's address (pulumi-
                # kubernetes Service await: selected pods ready, and for type LoadBalancer an
                # address in .status.loadBalancer.ingress), so it follows the release's pods;
                # and the pods admit the NLB before it sends its first health check.
                depends_on=[*after, backend],
                custom_timeouts=pulumi.CustomTimeouts(create="20m", update="20m"),
            ),
        )
        return group, service

    def _secrets(
        self,
        name: str,
        args: AirflowOnEksArgs,
        inputs: chart.ChartInputs,
        opts: pulumi.ResourceOptions,
    ) -> tuple[list[pulumi.Resource], pulumi.Output[str]]:
        """The secrets the chart and the login Job read, generated once per stack, and a
        short hash of the app password (its version, without the password)."""
        generated = pulumi.ResourceOptions(parent=self)
        fernet = random.RandomBytes(f"{name}-fernet-key", length=32, opts=generated)
        api_key = random.RandomPassword(
            f"{name}-api-secret-key", length=48, special=False, opts=generated
        )
        jwt = random.RandomPassword(f"{name}-jwt-secret", length=48, special=False, opts=generated)
        # Letters and digits only: the password sits in a URL and in PgBouncer's users.txt.
        app_password = random.RandomPassword(
            f"{name}-app-db-password", length=40, special=False, opts=generated
        )
        host, port, alias = chart.pgbouncer_target(inputs)
        connection = pulumi.Output.concat(
            f"postgresql://{APP_DB_USER}:", app_password.result, f"@{host}:{port}/{alias}"
        )
        pgbouncer_ini, users_txt = pgbouncer_config(
            database_host=args.database_address,
            database_port=args.database_port,
            database_name=args.database_name,
            alias=alias,
            user=APP_DB_USER,
            password=app_password.result,
        )
        made = [
            _secret(
                inputs.fernet_key_secret_name,
                args.namespace,
                {"fernet-key": fernet_key(fernet.base64)},
                opts,
            ),
            _secret(
                inputs.api_secret_key_secret_name,
                args.namespace,
                {"api-secret-key": api_key.result},
                opts,
            ),
            _secret(inputs.jwt_secret_name, args.namespace, {"jwt-secret": jwt.result}, opts),
            _secret(inputs.metadata_secret_name, args.namespace, {"connection": connection}, opts),
            _secret(
                inputs.pgbouncer_config_secret_name,
                args.namespace,
                {"pgbouncer.ini": pgbouncer_ini, "users.txt": users_txt},
                opts,
            ),
            # The PgBouncer exporter beside PgBouncer reads its stats through this.
            _secret(
                inputs.pgbouncer_stats_secret_name,
                args.namespace,
                {
                    "connection": pulumi.Output.concat(
                        f"postgresql://{APP_DB_USER}:",
                        app_password.result,
                        f"@127.0.0.1:{port}/pgbouncer?sslmode=disable",
                    )
                },
                opts,
            ),
            _secret(
                METADATA_USER_SECRET_NAME,
                args.namespace,
                {"password": app_password.result},
                opts,
            ),
        ]
        password_version = app_password.result.apply(
            lambda text: hashlib.sha256(text.encode()).hexdigest()[:12]
        )
        if args.tier in (Tier.DEV, Tier.EPHEMERAL):
            admin = random.RandomPassword(
                f"{name}-admin-password", length=24, special=False, opts=generated
            )
            made.append(
                _secret(
                    inputs.admin_user_secret_name,
                    args.namespace,
                    {chart.ADMIN_PASSWORD_KEY: admin.result},
                    opts,
                )
            )
        return made, password_version

    def _metadata_user_job(
        self,
        name: str,
        args: AirflowOnEksArgs,
        opts: pulumi.ResourceOptions,
        after: Sequence[pulumi.Resource],
        password_version: pulumi.Output[str],
    ) -> kubernetes.batch.v1.Job:
        """Airflow's login on RDS, made to match the stack's password before the chart's
        migration job connects with it (platform_ops.metadata_user)."""
        service_account = kubernetes.core.v1.ServiceAccount(
            f"{name}-metadata-user-sa",
            metadata={"name": METADATA_USER_SERVICE_ACCOUNT, "namespace": args.namespace},
            opts=opts,
        )
        image = pulumi.Output.concat(args.image_repository, "@", args.image_digest)
        env = [
            {"name": "METADATA_DB_HOST", "value": args.database_address},
            {"name": "METADATA_DB_PORT", "value": str(args.database_port)},
            {"name": "METADATA_DB_NAME", "value": args.database_name},
            {"name": "METADATA_MASTER_SECRET_ARN", "value": args.master_secret_arn},
            {"name": "METADATA_APP_USER", "value": APP_DB_USER},
            {
                "name": "METADATA_APP_PASSWORD",
                "valueFrom": {
                    "secretKeyRef": {"name": METADATA_USER_SECRET_NAME, "key": "password"}
                },
            },
            # Pod Identity sets credentials, not a region.
            {"name": "AWS_REGION", "value": args.aws.region},
        ]
        return kubernetes.batch.v1.Job(
            f"{name}-metadata-user",
            metadata={"namespace": args.namespace, "labels": {"app": "airflow-metadata-user"}},
            spec={
                # Pod Identity associations take a few seconds to apply: retries cover them.
                "backoffLimit": 4,
                "ttlSecondsAfterFinished": 3600,
                "template": {
                    "metadata": {
                        # A new app password makes a new pod template: the Job runs again.
                        "annotations": {"airflow-platform/password-version": password_version}
                    },
                    "spec": {
                        "serviceAccountName": METADATA_USER_SERVICE_ACCOUNT,
                        "restartPolicy": "Never",
                        "securityContext": {"runAsNonRoot": True},
                        "containers": [
                            {
                                "name": "metadata-user",
                                "image": image,
                                "command": ["python", "-m", "platform_ops.metadata_user"],
                                "env": env,
                                "resources": {
                                    "requests": {"cpu": "100m", "memory": "256Mi"},
                                    "limits": {"cpu": "500m", "memory": "512Mi"},
                                },
                            }
                        ],
                    },
                },
            },
            opts=pulumi.ResourceOptions.merge(
                opts,
                pulumi.ResourceOptions(
                    depends_on=[service_account, *after],
                    # A Job's template cannot change in place; a new one replaces it.
                    delete_before_replace=True,
                ),
            ),
        )
