"""The orphan audit (teardown/audit.py, `airflow-platform audit`) against moto's server: what a
stack left in two regions is found by its tags, by EKS Auto Mode's cluster tag and by its
names; `pr-70`'s resources and another project's `stack=pr-7` are not; what AWS is already
deleting is shown but is no orphan; a clean account reports nothing.

The server is this module's own (reset before each test), so "a clean account" is clean.
moto's Resource Groups Tagging API covers logs, S3, SQS, SNS, KMS, Secrets Manager and EC2
(network interfaces), the kinds used here; it has no IAM (nor has AWS: the audit reads roles
through GetAccountAuthorizationDetails), ECR, EKS or Scheduler. moto's GetResources also
returns every bucket in every region (AWS returns a bucket in its own region only): the
audit's de-duplication and GetBucketLocation make the report the same either way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.stub import Stubber

from airflow_platform.cli import main
from tests.conftest import ROOT
from tests.integration.servers import MotoServer

PROJECT = "airflow-platform"
ACCOUNT = "123456789012"  # moto's default account
HOME, CHATBOT = "eu-west-1", "us-east-1"
OURS = {"project": PROJECT, "stack": "pr-7", "tier": "ephemeral", "owner": "platform"}
PR_70 = {**OURS, "stack": "pr-70"}
OTHER_PROJECT = {**OURS, "project": "other-project"}


def target(*regions: str) -> Any:
    from airflow_platform.teardown.audit import AuditTarget

    return AuditTarget(PROJECT, "pr-7", ACCOUNT, regions or (HOME, CHATBOT))


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


class Account:
    """Creates resources in moto and remembers what the audit should report."""

    def __init__(self, client_for: Callable[[str, str], Any]) -> None:
        self.client = client_for
        self.expected: set[tuple[str, str, str, str, bool]] = set()

    def expect(self, region: str, kind: str, identifier: str, how: str, pending: bool = False):
        self.expected.add((region, kind, identifier, how, pending))

    def log_group(self, region: str, name: str, tags: dict[str, str] | None = None) -> str:
        logs = self.client("logs", region)
        logs.create_log_group(logGroupName=name, **({"tags": tags} if tags else {}))
        return f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{name}"

    def bucket(self, region: str, name: str, tags: dict[str, str] | None = None) -> str:
        s3 = self.client("s3", region)
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
        if tags:
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tag_list(tags)})
        return f"arn:aws:s3:::{name}"

    def queue(self, region: str, name: str, tags: dict[str, str]) -> str:
        sqs = self.client("sqs", region)
        url = sqs.create_queue(QueueName=name, tags=tags)["QueueUrl"]
        return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]

    def topic(self, region: str, name: str, tags: dict[str, str]) -> str:
        return self.client("sns", region).create_topic(Name=name, Tags=tag_list(tags))["TopicArn"]

    def key(self, region: str, tags: dict[str, str], deleting: bool = False) -> str:
        kms = self.client("kms", region)
        key = kms.create_key(Tags=[{"TagKey": k, "TagValue": v} for k, v in tags.items()])
        if deleting:
            kms.schedule_key_deletion(KeyId=key["KeyMetadata"]["KeyId"], PendingWindowInDays=7)
        return key["KeyMetadata"]["Arn"]

    def secret(self, region: str, name: str, tags: dict[str, str], deleting: bool = False) -> str:
        secrets = self.client("secretsmanager", region)
        arn = secrets.create_secret(Name=name, SecretString="x", Tags=tag_list(tags))["ARN"]
        if deleting:
            secrets.delete_secret(SecretId=arn, RecoveryWindowInDays=7)
        return arn

    def schedule(self, region: str, name: str) -> str:
        scheduler = self.client("scheduler", region)
        return scheduler.create_schedule(
            Name=name,
            ScheduleExpression="rate(5 minutes)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={
                "Arn": f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}",
                "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/{name}-scheduler",
            },
        )["ScheduleArn"]

    def cluster_interface(self, region: str, cluster: str) -> str:
        ec2 = self.client("ec2", region)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
        interface = ec2.create_network_interface(
            SubnetId=subnet,
            TagSpecifications=[
                {
                    "ResourceType": "network-interface",
                    "Tags": [{"Key": "eks:eks-cluster-name", "Value": cluster}],
                }
            ],
        )["NetworkInterface"]["NetworkInterfaceId"]
        return f"arn:aws:ec2:{region}:{ACCOUNT}:network-interface/{interface}"

    def role(self, name: str, tags: dict[str, str] | None = None) -> str:
        iam = self.client("iam", HOME)
        trust = json.dumps({"Version": "2012-10-17", "Statement": []})
        return iam.create_role(
            RoleName=name, AssumeRolePolicyDocument=trust, Tags=tag_list(tags or {})
        )["Role"]["Arn"]


def leave_others(account: Account) -> None:
    """What belongs to pr-70 and to another project's pr-7: never in pr-7's report."""
    account.log_group(HOME, "/aws/lambda/airflow-pr-70-health-probe", PR_70)
    account.log_group(HOME, "/aws/rds/instance/airflow-pr-70-metadata/postgresql")
    account.log_group(HOME, "/airflow-platform/pr-70/vpc-flow-logs")
    account.bucket(HOME, f"airflow-pr-70-dags-{ACCOUNT}-{HOME}", PR_70)
    account.bucket(HOME, f"airflow-pr-70-logs-{ACCOUNT}-{HOME}")
    account.queue(HOME, "airflow-pr-70-health-probe-dead-letters", PR_70)
    account.key(HOME, PR_70)
    account.secret(HOME, "airflow/pr-70/variables/mode", PR_70)
    account.schedule(HOME, "airflow-pr-70-health-probe")
    account.cluster_interface(HOME, "airflow-pr-70")
    account.role("airflow-pr-70-execution", PR_70)
    account.role("airflow-pr-70-chatbot")
    account.topic(CHATBOT, "airflow-pr-70-alerts", PR_70)
    account.log_group(CHATBOT, "/aws/chatbot/airflow-pr-70-alerts")
    # Another project's stack of the same name, once with a name pr-7's rule owns: its tags
    # say it is not ours.
    account.topic(HOME, "other-project-pr-7-alerts", OTHER_PROJECT)
    account.log_group(HOME, "/aws/eks/airflow-pr-7/cluster", OTHER_PROJECT)
    account.role("airflow-pr-7-worker", OTHER_PROJECT)


def leave_ours(account: Account) -> None:
    """What pr-7 left in eu-west-1, us-east-1 and IAM, and how each is found."""
    tag, name = "tag", "name"
    lambda_logs = "/aws/lambda/airflow-pr-7-health-probe"
    account.expect(HOME, "logs:log-group", account.log_group(HOME, lambda_logs, OURS), tag)
    # RDS created it on first export, without tags: only its name says whose it is.
    rds_logs = "/aws/rds/instance/airflow-pr-7-metadata/postgresql"
    account.expect(HOME, "logs:log-group", account.log_group(HOME, rds_logs), name)
    dags, backups = (f"airflow-pr-7-{purpose}-{ACCOUNT}-{HOME}" for purpose in ("dags", "backups"))
    account.expect(HOME, "s3:bucket", account.bucket(HOME, dags, OURS), tag)
    account.expect(HOME, "s3:bucket", account.bucket(HOME, backups), name)
    dead_letters = "airflow-pr-7-health-probe-dead-letters"
    account.expect(HOME, "sqs:queue", account.queue(HOME, dead_letters, OURS), tag)
    account.expect(HOME, "kms:key", account.key(HOME, OURS), tag)
    account.expect(HOME, "kms:key", account.key(HOME, OURS, deleting=True), tag, pending=True)
    secret = account.secret(HOME, "airflow/pr-7/variables/mode", OURS, deleting=True)
    account.expect(HOME, "secretsmanager:secret", secret, tag, pending=True)
    schedule = account.schedule(HOME, "airflow-pr-7-health-probe")
    account.expect(HOME, "scheduler:schedule", schedule, name)
    interface = account.cluster_interface(HOME, "airflow-pr-7")
    account.expect(HOME, "ec2:network-interface", interface, "cluster-tag")
    chatbot_logs = "/aws/chatbot/airflow-pr-7-alerts"
    account.expect(CHATBOT, "logs:log-group", account.log_group(CHATBOT, chatbot_logs, OURS), tag)
    account.expect(CHATBOT, "sns:topic", account.topic(CHATBOT, "airflow-pr-7-alerts", OURS), tag)
    account.expect("global", "iam:role", account.role("airflow-pr-7-chatbot", OURS), tag)
    account.expect("global", "iam:role", account.role("airflow-pr-7-execution"), name)


def as_rows(report: Any) -> set[tuple[str, str, str, str, bool]]:
    return {
        (item.region, item.kind, item.identifier, item.found_by, item.pending_deletion)
        for item in report.leftovers
    }


def test_audit_finds_what_the_stack_left_in_both_regions_by_tag_cluster_tag_and_name(client_for):
    from airflow_platform.teardown.audit import audit_stack

    account = Account(client_for)
    leave_others(account)
    leave_ours(account)

    report = audit_stack(target(), client_for)

    assert as_rows(report) == account.expected
    assert not report.clean
    assert len(report.leftovers) == len({item.identifier for item in report.leftovers})


def test_audit_never_reports_pr_70_or_another_projects_pr_7(client_for):
    from airflow_platform.teardown.audit import audit_stack

    account = Account(client_for)
    leave_others(account)
    leave_ours(account)

    report = audit_stack(target(), client_for)

    strays = [
        item.identifier
        for item in report.leftovers
        if "pr-70" in item.identifier
        or "other-project" in item.identifier
        or item.identifier.endswith(("airflow-pr-7-worker", "/aws/eks/airflow-pr-7/cluster"))
    ]
    assert strays == []


def test_key_and_secret_aws_is_deleting_are_listed_as_pending_not_as_orphans(client_for):
    from airflow_platform.teardown.audit import audit_stack

    account = Account(client_for)
    key = account.key(HOME, OURS, deleting=True)
    secret = account.secret(HOME, "airflow/pr-7/connections/db", OURS, deleting=True)

    report = audit_stack(target(), client_for)

    assert {item.identifier: item.pending_deletion for item in report.leftovers} == {
        key: True,
        secret: True,
    }
    assert report.orphans == ()
    assert report.clean


def test_audit_of_a_clean_account_reports_nothing_when_only_others_are_left(client_for):
    from airflow_platform.teardown.audit import audit_stack

    empty = audit_stack(target(), client_for)
    leave_others(Account(client_for))
    others_only = audit_stack(target(), client_for)

    assert empty.leftovers == ()
    assert empty.clean
    assert others_only.leftovers == ()
    assert others_only.clean


def test_audit_reads_every_page_of_the_tagging_api(client_for):
    from airflow_platform.teardown.audit import audit_stack

    account = Account(client_for)
    queues = {account.queue(HOME, f"pr-7-queue-{n:03}", OURS) for n in range(120)}

    report = audit_stack(target(HOME), client_for)

    assert {item.identifier for item in report.leftovers} == queues


def test_audit_error_names_the_service_and_region_when_a_region_cannot_be_read(client_for):
    from airflow_platform.teardown.audit import AuditError, audit_stack

    # moto answers 500 for a region it does not know, as an endpoint that is not there would
    # fail: the audit must stop, not report clean.
    with pytest.raises(AuditError, match=r"resourcegroupstaggingapi in xx-nowhere-1"):
        audit_stack(target(HOME, "xx-nowhere-1"), client_for)


def test_access_denied_becomes_an_audit_error_naming_the_service_and_region(client_for):
    from airflow_platform.teardown.audit import AuditError, audit_stack

    # moto's server grants everything; botocore's Stubber answers as AWS does to a role
    # without tag:GetResources.
    denied = client_for("resourcegroupstaggingapi", HOME)
    stubber = Stubber(denied)
    stubber.add_client_error(
        "get_resources",
        service_error_code="AccessDeniedException",
        service_message="User is not authorized to perform: tag:GetResources",
        http_status_code=400,
    )

    def client(service: str, region: str) -> Any:
        return denied if service == "resourcegroupstaggingapi" else client_for(service, region)

    with stubber, pytest.raises(AuditError) as raised:
        audit_stack(target(HOME), client)

    assert str(raised.value).startswith(
        "cannot read resourcegroupstaggingapi in eu-west-1 (get_resources): "
        "AccessDeniedException: User is not authorized"
    )
    assert raised.value.code == "AccessDeniedException"


@pytest.fixture
def aws_env(module_moto: MotoServer, client_for: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator's environment, pointing at this module's moto server."""
    import os

    for name in [n for n in os.environ if n.startswith(("AWS_", "BOTO"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", module_moto.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("COLUMNS", "300")


def test_cli_audit_exits_0_and_says_nothing_is_left_on_a_clean_account(aws_env, capsys):
    code = main(["audit", "pr-7", "--project-dir", str(ROOT)])

    out = capsys.readouterr().out
    assert code == 0, out
    assert "pr-7: nothing left in eu-west-1, us-east-1" in out


def test_cli_audit_exits_1_and_names_each_leftover_in_its_table(aws_env, client_for, capsys):
    account = Account(client_for)
    leave_others(account)
    leave_ours(account)

    code = main(["audit", "pr-7", "--project-dir", str(ROOT)])

    out = capsys.readouterr().out
    assert code == 1, out
    for region, kind, identifier, how, _pending in account.expected:
        row = next((line for line in out.splitlines() if identifier in line), None)
        assert row is not None, f"{identifier} not in the table:\n{out}"
        assert region in row, row
        assert kind in row, row
        assert how in row, row
    assert "pr-70" not in out
    orphans = sum(1 for row in account.expected if not row[4])
    assert f"pr-7: {orphans} resource(s) left in eu-west-1, us-east-1 (2 pending deletion" in out


def test_cli_audit_searches_an_extra_region_given_by_its_variable(aws_env, client_for, capsys,
                                                                 monkeypatch):  # fmt: skip
    arn = Account(client_for).log_group("eu-central-1", "/aws/lambda/airflow-pr-7-health-probe")
    monkeypatch.setenv("AIRFLOW_PLATFORM_AUDIT_REGIONS", "eu-central-1")

    code = main(["audit", "pr-7", "--project-dir", str(ROOT)])

    out = capsys.readouterr().out
    assert code == 1, out
    assert arn in out
    assert "eu-west-1, us-east-1, eu-central-1" in out
