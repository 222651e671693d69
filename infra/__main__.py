"""One airflow-platform stack: the network, the project key, the buckets and the database
Airflow runs on.

`pulumi up -s <stack>` runs this file with the config in `stacks/Pulumi.<stack>.yaml`
(a `pr-<number>` stack needs no file). `airflow-platform plan <stack>` runs this same file
offline under the Pulumi SDK's mock runtime. This module only wires: every concern lives in
`airflow_platform.components`, every default in `airflow_platform.config.tiers`.
"""

from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as kubernetes

from airflow_platform.airflow_settings import (
    SettingsInputs,
    environment_name,
    mwaa_options,
    production_settings,
    stack_variables,
    variables_prefix,
)
from airflow_platform.aws_context import AwsContext
from airflow_platform.components.airflow_eks import AirflowOnEks, AirflowOnEksArgs
from airflow_platform.components.airflow_variables import AirflowVariables, AirflowVariablesArgs
from airflow_platform.components.dag_bundle import DagBundle, DagBundleArgs
from airflow_platform.components.database import (
    DATABASE_NAME,
    MetadataDatabase,
    MetadataDatabaseArgs,
)
from airflow_platform.components.database import PORT as DATABASE_PORT
from airflow_platform.components.eks import EksCluster, EksClusterArgs
from airflow_platform.components.encryption import ProjectKey, ProjectKeyArgs
from airflow_platform.components.image import AirflowImage, AirflowImageArgs
from airflow_platform.components.monitoring import Monitoring, MonitoringArgs
from airflow_platform.components.mwaa import MwaaEnvironment, MwaaEnvironmentArgs
from airflow_platform.components.network import Network, NetworkArgs
from airflow_platform.components.storage import Storage, StorageArgs
from airflow_platform.config import load_settings
from airflow_platform.config.model import Platform
from airflow_platform.tagging import stack_tags
from airflow_platform.task_pool import task_node_pool
from airflow_platform.versions import versions
from airflow_platform.zones import check_zone_count, region_zones

# The project directory: this file is infra/__main__.py (a copy of the project plans its own
# dags/ and startup script).
PROJECT_DIR = Path(__file__).absolute().parents[1]

settings = load_settings()
config = settings.config
# Checked against the account's real zones before anything is declared.
zones = region_zones()
check_zone_count(settings, zones)
tags = stack_tags(settings)
aws_context = AwsContext.current(settings.region)
protect_data = pulumi.ResourceOptions(protect=settings.teardown.protect_data)

key = (
    ProjectKey(
        "kms",
        ProjectKeyArgs(
            aws=aws_context,
            alias=f"{settings.project}-{settings.stack}",
            tags=tags,
            deletion_window_days=settings.teardown.key_deletion_window_days,
        ),
        opts=protect_data,
    )
    if config.encryption.customer_managed_key
    else None
)
key_arn = key.key_arn if key else None

network = Network(
    "network",
    NetworkArgs(
        stack=settings.stack,
        config=config.network,
        zones=zones,
        aws=aws_context,
        tags=tags,
        kms_key_arn=key_arn,
    ),
)
storage = Storage(
    "storage",
    StorageArgs(
        stack=settings.stack,
        aws=aws_context,
        log_archive=config.storage.log_archive,
        backup=config.backup,
        teardown=settings.teardown,
        tags=tags,
        kms_key_arn=key_arn,
        access_logging=config.storage.access_logging,
    ),
)

# eks stacks: the cluster comes first, as the database admits its pods' security group.
eks = None
if settings.platform is Platform.EKS:
    eks = EksCluster(
        "eks",
        EksClusterArgs(
            stack=settings.stack,
            aws=aws_context,
            config=config.eks,
            kubernetes_version=versions().kubernetes,
            vpc_id=network.vpc_id,
            subnet_ids=network.private_subnet_ids,
            tags=tags,
            kms_key_arn=key_arn,
        ),
    )
# MWAA attaches the network's airflow-runtime group; EKS Auto Mode's pods carry the cluster
# security group EKS creates (components/eks.py).
runtime_group = eks.security_group_id if eks is not None else network.runtime_security_group_id

database = None
if config.database.enabled:
    replica_region = config.backup.replica_region
    replica_provider = None
    replica_key = None
    if replica_region is not None:
        # Components create no providers. The backup copies, and the key encrypting them,
        # live in the second region and are managed through this one.
        replica_provider = aws.Provider("aws-backup-replica", region=replica_region)
        replica_key = ProjectKey(
            "kms-backup-replica",
            ProjectKeyArgs(
                aws=AwsContext(account_id=aws_context.account_id, region=replica_region),
                alias=f"{settings.project}-{settings.stack}-backup-replica",
                tags=tags,
                deletion_window_days=settings.teardown.key_deletion_window_days,
            ),
            opts=pulumi.ResourceOptions.merge(
                protect_data, pulumi.ResourceOptions(providers=[replica_provider])
            ),
        )
    database = MetadataDatabase(
        "database",
        MetadataDatabaseArgs(
            stack=settings.stack,
            aws=aws_context,
            config=config.database,
            backup=config.backup,
            teardown=settings.teardown,
            vpc_id=network.vpc_id,
            subnet_ids=network.private_subnet_ids,
            client_security_group_id=runtime_group,
            tags=tags,
            kms_key_arn=key_arn,
            replica_provider=replica_provider,
            replica_kms_key_arn=replica_key.key_arn if replica_key else None,
        ),
    )

# The production Airflow settings, once, for whichever runtime the stack runs.
airflow_settings = production_settings(
    settings.tier,
    SettingsInputs(
        stack=settings.stack,
        platform=settings.platform,
        environment_name=environment_name(settings.stack),
        backup_bucket=storage.backup_bucket,
        log_archive_bucket=storage.log_archive_bucket,
        dag_bucket=storage.dag_bucket,
    ),
)

mwaa = None
if settings.platform is Platform.MWAA:
    bundle = DagBundle(
        "dag-bundle",
        DagBundleArgs(
            bucket=storage.dag_bucket,
            dags_dir=PROJECT_DIR / "dags",
            startup_script=PROJECT_DIR / "images" / "mwaa" / "startup.sh",
            versions=versions(),
            tags=tags,
            bucket_ready=storage.dag_bucket_ready,
        ),
    )
    mwaa = MwaaEnvironment(
        "mwaa",
        MwaaEnvironmentArgs(
            stack=settings.stack,
            aws=aws_context,
            config=config.mwaa,
            airflow_version=versions().airflow,
            vpc_id=network.vpc_id,
            subnet_ids=network.private_subnet_ids,
            runtime_security_group_id=network.runtime_security_group_id,
            dag_bucket=storage.dag_bucket,
            dag_bucket_arn=storage.dag_bucket_arn,
            backup_bucket_arn=storage.backup_bucket_arn,
            log_archive_bucket_arn=storage.log_archive_bucket_arn,
            requirements=(bundle.requirements_key, bundle.requirements_version),
            plugins=(bundle.plugins_key, bundle.plugins_version),
            startup_script=(bundle.startup_script_key, bundle.startup_script_version),
            airflow_options=mwaa_options(airflow_settings, config.mwaa.airflow_options),
            tags=tags,
            kms_key_arn=key_arn,
            dag_bucket_ready=storage.dag_bucket_ready,
        ),
    )

airflow_on_eks = None
image = None
if eks is not None and database is not None:
    eks_bundle = DagBundle(
        "dag-bundle",
        DagBundleArgs(
            bucket=storage.dag_bucket,
            dags_dir=PROJECT_DIR / "dags",
            tags=tags,
            bucket_ready=storage.dag_bucket_ready,
            platform=Platform.EKS,
        ),
    )
    image = AirflowImage(
        "image",
        AirflowImageArgs(
            stack=settings.stack,
            versions=versions(),
            teardown=settings.teardown,
            tags=tags,
            kms_key_arn=key_arn,
            # The project this program belongs to (a copy plans its own files).
            context_dir=PROJECT_DIR,
            dockerfile=PROJECT_DIR / "images" / "eks" / "Dockerfile",
        ),
    )
    # Components create no providers: the cluster's own, from its kubeconfig.
    cluster_provider = kubernetes.Provider("eks-kubernetes", kubeconfig=eks.kubeconfig)
    airflow_on_eks = AirflowOnEks(
        "airflow",
        AirflowOnEksArgs(
            stack=settings.stack,
            tier=settings.tier,
            aws=aws_context,
            cluster_name=eks.name,
            cluster_arn=eks.arn,
            settings=airflow_settings,
            image_repository=image.repository_url,
            image_tag=image.image_tag,
            image_digest=image.image_ref.apply(lambda ref: ref.split("@", 1)[1]),
            database_address=database.address,
            database_port=DATABASE_PORT,
            database_name=DATABASE_NAME,
            master_secret_arn=database.secret_arn,
            dag_bucket_arn=storage.dag_bucket_arn,
            log_archive_bucket_arn=storage.log_archive_bucket_arn,
            backup_bucket_arn=storage.backup_bucket_arn,
            task_node_pool=task_node_pool([c.value for c in config.eks.task_capacity_types]),
            tags=tags,
            kms_key_arn=key_arn,
            wait_for=eks_bundle.objects,
            vpc_id=network.vpc_id,
            cluster_security_group_id=eks.security_group_id,
        ),
        opts=pulumi.ResourceOptions(providers={"kubernetes": cluster_provider}),
    )

# Watches whichever runtime the stack runs; the alarms name what each one watches.
monitoring = Monitoring(
    "monitoring",
    MonitoringArgs(
        stack=settings.stack,
        aws=aws_context,
        config=config,
        tags=tags,
        probe_source_root=PROJECT_DIR / "functions" / "health_probe",
        vpc_id=network.vpc_id,
        subnet_ids=network.private_subnet_ids,
        backup_database=DATABASE_NAME,
        kms_key_arn=key_arn,
        database_identifier=database.identifier if database is not None else None,
        database_arn=database.arn if database is not None else None,
        mwaa_environment=mwaa.name if mwaa is not None else None,
        eks_cluster=eks.name if eks is not None else None,
        api_url=airflow_on_eks.api_url if airflow_on_eks is not None else None,
        api_security_group_id=(
            airflow_on_eks.api_security_group_id if airflow_on_eks is not None else None
        ),
    ),
)

variables = AirflowVariables(
    "airflow-variables",
    AirflowVariablesArgs(
        variables_prefix=variables_prefix(settings.stack),
        variables=stack_variables(settings.tier),
        tags=tags,
        kms_key_arn=key_arn,
    ),
)

pulumi.export("tier", settings.tier.value)
pulumi.export("platform", settings.platform.value)
pulumi.export("vpcId", network.vpc_id)
pulumi.export("privateSubnetIds", network.private_subnet_ids)
pulumi.export("runtimeSecurityGroupId", network.runtime_security_group_id)
pulumi.export("dagBucket", storage.dag_bucket)
pulumi.export("logArchiveBucket", storage.log_archive_bucket)
pulumi.export("backupBucket", storage.backup_bucket)
if storage.access_log_bucket is not None:
    pulumi.export("accessLogBucket", storage.access_log_bucket)
if database is not None:
    pulumi.export("databaseEndpoint", database.endpoint)
    pulumi.export("databaseSecretArn", database.secret_arn)
    pulumi.export("databaseSecurityGroupId", database.security_group_id)
if mwaa is not None:
    pulumi.export("mwaaEnvironmentName", mwaa.name)
    pulumi.export("mwaaEnvironmentArn", mwaa.arn)
    pulumi.export("mwaaWebserverUrl", mwaa.webserver_url)
    pulumi.export("mwaaExecutionRoleArn", mwaa.execution_role_arn)
if eks is not None:
    pulumi.export("eksClusterName", eks.name)
    pulumi.export("eksEndpoint", eks.endpoint)
    pulumi.export("eksSecurityGroupId", eks.security_group_id)
    pulumi.export("eksDeployerSecurityGroupId", eks.deployer_security_group_id)
    pulumi.export("kubeconfig", eks.kubeconfig)
if airflow_on_eks is not None and image is not None:
    pulumi.export("airflowNamespace", airflow_on_eks.namespace)
    pulumi.export("airflowRelease", airflow_on_eks.release_name)
    pulumi.export("ecrRepository", image.repository_url)
    pulumi.export("airflowImage", image.image_ref)
if airflow_on_eks is not None:
    pulumi.export("airflowApiUrl", airflow_on_eks.api_url)
pulumi.export("alertTopicArn", monitoring.topic_arn)
pulumi.export("dashboardName", monitoring.dashboard_name)
pulumi.export("healthProbeFunction", monitoring.probe_function_name)
if key is not None:
    pulumi.export("kmsKeyArn", key.key_arn)
if settings.expires_at is not None:
    pulumi.export("expiresAt", tags["expires-at"])
