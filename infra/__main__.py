"""One airflow-platform stack: the network, the project key and the buckets Airflow runs on.

`pulumi up -s <stack>` runs this file with the config in `stacks/Pulumi.<stack>.yaml`
(a `pr-<number>` stack needs no file). `airflow-platform plan <stack>` runs this same file
offline under the Pulumi SDK's mock runtime. This module only wires: every concern lives in
`airflow_platform.components`, every default in `airflow_platform.config.tiers`.
"""

import pulumi

from airflow_platform.aws_context import AwsContext
from airflow_platform.components.encryption import ProjectKey, ProjectKeyArgs
from airflow_platform.components.network import Network, NetworkArgs
from airflow_platform.components.storage import Storage, StorageArgs
from airflow_platform.config import load_settings
from airflow_platform.tagging import stack_tags

settings = load_settings()
config = settings.config
tags = stack_tags(settings)
aws_context = AwsContext.current(settings.region)
protect_data = pulumi.ResourceOptions(protect=settings.teardown.protect_data)

key = (
    ProjectKey(
        "kms",
        ProjectKeyArgs(aws=aws_context, alias=f"{settings.project}-{settings.stack}", tags=tags),
        opts=protect_data,
    )
    if config.encryption.customer_managed_key
    else None
)
key_arn = key.key_arn if key else None

network = Network(
    "network",
    NetworkArgs(config=config.network, aws=aws_context, tags=tags, kms_key_arn=key_arn),
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
    ),
)

pulumi.export("tier", settings.tier.value)
pulumi.export("platform", settings.platform.value)
pulumi.export("vpcId", network.vpc_id)
pulumi.export("privateSubnetIds", network.private_subnet_ids)
pulumi.export("dagBucket", storage.dag_bucket)
pulumi.export("logArchiveBucket", storage.log_archive_bucket)
pulumi.export("backupBucket", storage.backup_bucket)
if key is not None:
    pulumi.export("kmsKeyArn", key.key_arn)
if settings.expires_at is not None:
    pulumi.export("expiresAt", tags["expires-at"])
