"""ECR policy rules (policy/platform_rules/ecr.py) over the eks stacks' image repository, and
repository policies declared under the mocks."""

from __future__ import annotations

import json

import pulumi_aws as aws
import pytest
from platform_rules import evaluate

from tests.test_policy_rules_iam import (
    changed,
    declared_stack,
    module_rules,
    one,
    program_stack,
    swapped,
    violations,
)

REPOSITORY = "aws:ecr/repository:Repository"
LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
# The stacks that build an image: eks ones (prod, staging; dev and pr-7 run mwaa).
EKS_STACKS = [("prod", None), ("staging", None), ("dev", "eks"), ("pr-7", "eks")]


def _repository(stack_name: str = "prod", platform: str | None = None):
    stack = program_stack(stack_name, platform)
    return stack, one(stack, REPOSITORY, "image-repository")


@pytest.mark.parametrize(("stack", "platform"), EKS_STACKS)
def test_the_image_repository_passes_the_repository_rules(stack, platform):
    rules = [r for r in module_rules("ecr") if r.name != "ecr-kms-encryption"]
    assert evaluate(rules, program_stack(stack, platform)) == []


def test_prod_image_repository_is_encrypted_with_the_project_key():
    stack, repository = _repository()
    assert violations("ecr-kms-encryption", stack) == []
    assert repository.props["encryptionConfigurations"][0]["encryptionType"] == "KMS"


@pytest.mark.parametrize(
    ("rule_name", "change"),
    [
        ("ecr-immutable-tags", {"imageTagMutability": "MUTABLE"}),
        ("ecr-scan-on-push", {"imageScanningConfiguration": {"scanOnPush": False}}),
        ("ecr-scan-on-push", {"imageScanningConfiguration": None}),
        ("ecr-kms-encryption", {"encryptionConfigurations": [{"encryptionType": "AES256"}]}),
        ("ecr-kms-encryption", {"encryptionConfigurations": None}),
    ],
)
def test_repository_setting_that_breaks_a_rule_is_reported_with_its_urn(rule_name, change):
    stack, repository = _repository()
    found = violations(rule_name, swapped(stack, changed(repository, **change)))
    assert [urn for urn, _ in found] == [repository.urn]


def test_repository_without_lifecycle_policy_is_reported_with_its_urn():
    stack, repository = _repository()
    lifecycle = one(stack, LIFECYCLE, "image-lifecycle")
    assert lifecycle.props["repository"] == repository.props["name"]
    found = violations("ecr-lifecycle-policy", swapped(stack, drop=[lifecycle]))
    assert [urn for urn, _ in found] == [repository.urn]


def _repository_policy(declare, principal, condition=None):
    statement = {"Sid": "Pull", "Effect": "Allow", "Principal": principal,
                 "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}  # fmt: skip
    if condition:
        statement["Condition"] = condition
    stack = declared_stack(
        declare(lambda: aws.ecr.RepositoryPolicy(
            "image-pull", repository="airflow-prod",
            policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
        ))
    )  # fmt: skip
    return stack, one(stack, "aws:ecr/repositoryPolicy:RepositoryPolicy", "image-pull")


def test_repository_policy_naming_its_pullers_passes(declare):
    stack, _ = _repository_policy(declare, {"AWS": "arn:aws:iam::210987654321:root"})
    assert violations("ecr-not-public", stack) == []
    stack, _ = _repository_policy(
        declare, "*", {"StringEquals": {"aws:PrincipalOrgID": "o-exampleorg"}}
    )
    assert violations("ecr-not-public", stack) == []


def test_repository_policy_open_to_anyone_is_reported_with_its_urn(declare):
    stack, policy = _repository_policy(declare, "*")
    found = violations("ecr-not-public", stack)
    assert [urn for urn, _ in found] == [policy.urn]


def test_public_gallery_repository_is_reported_with_its_urn(declare):
    stack = declared_stack(
        declare(lambda: aws.ecrpublic.Repository("gallery", repository_name="airflow"))
    )
    public = one(stack, "aws:ecrpublic/repository:Repository", "gallery")
    assert [urn for urn, _ in violations("ecr-not-public", stack)] == [public.urn]
