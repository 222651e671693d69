"""`destroy_stack` end to end against moto's server: a stand-in backend whose `destroy` deletes
real (moto) resources the way Pulumi would, the real waits and the real orphan audit.

The stack: a VPC with a subnet, an in-VPC Lambda whose network interface AWS releases on its
own time after the function is deleted (here: a timer, 1 s later), a tagged bucket, queue and
log group, and the log group Lambda writes to. The destroy must wait for the interface before
the subnet goes (EC2 refuses to delete a subnet that still holds one, DependencyViolation;
moto does not, so the stand-in's subnet deletion checks, as EC2 would), then find nothing
left; a log group AWS created on its own (never declared, so never destroyed) makes it
fail naming that group.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from airflow_platform.config.model import Tier
from airflow_platform.teardown.audit import AuditTarget, audit_stack
from airflow_platform.teardown.automation import BackendError, StackResource
from airflow_platform.teardown.destroy import DestroyError, Timing, destroy_stack
from tests.teardown_standin import InMemoryBackend, urn

PROJECT, STACK, ACCOUNT, REGION = "airflow-platform", "pr-7", "123456789012", "eu-west-1"
TAGS = {"project": PROJECT, "stack": STACK, "tier": "ephemeral", "owner": "platform"}
TIMING = Timing(settle_timeout=30, audit_timeout=1, interval=0.2)


class DeployedBackend(InMemoryBackend):
    """The stand-in backend, each resource deleted for real (in moto) when it is destroyed;
    everything left goes in reverse creation order, as Pulumi's dependency order would."""

    def __init__(self) -> None:
        super().__init__()
        self.deleters: dict[str, Callable[[], None]] = {}

    def deployed(self, type_: str, name: str, delete: Callable[[], None]) -> None:
        resource = StackResource(urn(STACK, type_, name), type_)
        self.resources_of.setdefault(STACK, []).append(resource)
        self.deleters[resource.urn] = delete

    def destroy(self, stack: str, targets: Sequence[str] | None) -> None:
        doomed = [
            r.urn for r in self.resources_of[stack] if targets is None or r.urn in set(targets)
        ]
        for resource_urn in reversed(doomed):
            self.deleters[resource_urn]()
        super().destroy(stack, targets)


def deploy(client_for: Callable[[str, str], Any]) -> DeployedBackend:
    """What `pulumi up` of a small pr-7 would have made, in moto."""
    ec2, s3 = client_for("ec2", REGION), client_for("s3", REGION)
    sqs, logs = client_for("sqs", REGION), client_for("logs", REGION)
    spec = [{"ResourceType": "vpc", "Tags": [{"Key": k, "Value": v} for k, v in TAGS.items()]}]
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16", TagSpecifications=spec)["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.7.1.0/24")["Subnet"]["SubnetId"]
    bucket = f"airflow-{STACK}-logs-{ACCOUNT}-{REGION}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_tagging(
        Bucket=bucket, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in TAGS.items()]}
    )
    queue = sqs.create_queue(QueueName=f"airflow-{STACK}-dead-letters", tags=TAGS)["QueueUrl"]
    probe_logs = f"/aws/lambda/airflow-{STACK}-health-probe"
    logs.create_log_group(logGroupName=probe_logs, tags=TAGS)
    # The function's interface, as Lambda makes it: owned by Lambda, untagged.
    interface = ec2.create_network_interface(
        SubnetId=subnet, Description=f"AWS Lambda VPC ENI-airflow-{STACK}-health-probe-1a2b3c4d"
    )["NetworkInterface"]["NetworkInterfaceId"]

    def delete_function() -> None:
        # Lambda releases the interface after the function is gone, not with it.
        release = threading.Timer(1.0, ec2.delete_network_interface, kwargs={
            "NetworkInterfaceId": interface})  # fmt: skip
        release.start()

    backend = DeployedBackend()
    backend.outputs_of[STACK] = {"vpcId": vpc, "expiresAt": "2026-01-01T00:00:00Z"}
    backend.deployed("aws:ec2/vpc:Vpc", "vpc", lambda: ec2.delete_vpc(VpcId=vpc))

    def delete_subnet() -> None:
        held = ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [subnet]}])
        if held["NetworkInterfaces"]:
            raise BackendError(
                f"deleting subnet {subnet}: DependencyViolation: The subnet has dependencies "
                "and cannot be deleted."
            )
        ec2.delete_subnet(SubnetId=subnet)

    backend.deployed("aws:ec2/subnet:Subnet", "private-0", delete_subnet)
    backend.deployed("aws:s3/bucket:Bucket", "logs", lambda: s3.delete_bucket(Bucket=bucket))
    backend.deployed(
        "aws:sqs/queue:Queue", "dead-letters", lambda: sqs.delete_queue(QueueUrl=queue)
    )
    backend.deployed(
        "aws:cloudwatch/logGroup:LogGroup", "probe-logs",
        lambda: logs.delete_log_group(logGroupName=probe_logs),
    )  # fmt: skip
    backend.deployed("aws:lambda/function:Function", "probe", delete_function)
    return backend


def run(backend: DeployedBackend, client_for: Callable[[str, str], Any]) -> Any:
    target = AuditTarget(PROJECT, STACK, ACCOUNT, (REGION,))
    said: list[str] = []
    result = destroy_stack(
        STACK, Tier.EPHEMERAL, backend, client_for, lambda: audit_stack(target, client_for),
        project=PROJECT, region=REGION, timing=TIMING, say=said.append,
    )  # fmt: skip
    return result, said


def test_destroy_waits_for_the_lambdas_interface_then_leaves_an_empty_account(client_for):
    backend = deploy(client_for)

    result, said = run(backend, client_for)

    destroys = [call[2] for call in backend.mutations()]
    assert [len(targets) if targets else None for targets in destroys] == [1, None]
    assert "AWS Lambda VPC ENI" not in " ".join(said[-1:])
    assert any("Lambda network interface" in line for line in said), said
    assert result.audit.clean
    assert result.audit.leftovers == ()
    ec2 = client_for("ec2", REGION)
    assert (
        ec2.describe_subnets(Filters=[{"Name": "cidr-block", "Values": ["10.7.1.0/24"]}])["Subnets"]
        == []
    )


def test_destroy_fails_naming_a_log_group_aws_created_that_the_stack_never_declared(client_for):
    backend = deploy(client_for)
    # Written by an RDS export the stack did not declare first: AWS made it, untagged.
    undeclared = f"/aws/rds/instance/airflow-{STACK}-metadata/postgresql"
    client_for("logs", REGION).create_log_group(logGroupName=undeclared)

    with pytest.raises(DestroyError, match="the audit found orphans") as failed:
        run(backend, client_for)

    assert undeclared in str(failed.value)
    assert "found by name" in str(failed.value)
