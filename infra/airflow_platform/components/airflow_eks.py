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
- the Helm release of the pinned chart, its values from `helm.values.chart_values`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes
import pulumi_random as random

from airflow_platform.aws_context import AwsContext
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

METADATA_USER_SERVICE_ACCOUNT = "airflow-metadata-user"
METADATA_USER_SECRET_NAME = "airflow-metadata-user"  # noqa: S105 - a secret's name
APP_DB_USER = "airflow_app"

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


def fernet_key(random_base64: pulumi.Input[str]) -> pulumi.Output[str]:
    """A Fernet key from 32 random bytes in standard base64: Fernet takes them URL-safe."""
    return pulumi.Output.from_input(random_base64).apply(
        lambda text: text.replace("+", "-").replace("/", "_")
    )


class AirflowOnEks(pulumi.ComponentResource):
    """The namespace, node pool, pod identities, secrets, metadata login and Helm release.

    Outputs: `namespace`, `release_name`, `role_arns` (service account to IAM role).
    """

    namespace: str
    release_name: str
    role_arns: dict[str, pulumi.Output[str]]

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
        node_pool = kubernetes.apiextensions.CustomResource(
            f"{name}-task-node-pool",
            api_version=args.task_node_pool["apiVersion"],
            kind=args.task_node_pool["kind"],
            metadata=args.task_node_pool["metadata"],
            spec=args.task_node_pool["spec"],
            opts=child,
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
        self.register_outputs(
            {
                "namespace": self.namespace,
                "release_name": release.name,
                "role_arns": self.role_arns,
            }
        )

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
