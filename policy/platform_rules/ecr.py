"""ECR: image repositories keep tags immutable, scan on push, encrypt with KMS, expire old
images, and are never public."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from platform_rules.iam import public_allows
from platform_rules.model import Resource, Rule, Stack
from platform_rules.reading import items

REPOSITORY = "aws:ecr/repository:Repository"
LIFECYCLE_POLICY = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
REPOSITORY_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"
# A repository of the public gallery is public by definition.
PUBLIC_REPOSITORY = "aws:ecrpublic/repository:Repository"


def _immutable_tags(resource: Resource, stack: Stack) -> Iterable[str]:
    if resource.get("imageTagMutability") != "IMMUTABLE":
        yield (
            "image tags can be overwritten, so a tag no longer says which image runs: set "
            "imageTagMutability = IMMUTABLE"
        )


def _scan_on_push(resource: Resource, stack: Stack) -> Iterable[str]:
    if resource.get("imageScanningConfiguration.scanOnPush") is not True:
        yield "pushed images are not scanned: set imageScanningConfiguration.scanOnPush = true"


def _kms_encryption(resource: Resource, stack: Stack) -> Iterable[str]:
    configurations = items(resource.get("encryptionConfigurations"))
    first = configurations[0] if configurations else None
    first = first if isinstance(first, Mapping) else {}
    if first.get("encryptionType") != "KMS" or not first.get("kmsKey"):
        yield (
            "images are not encrypted with the stack's key: set encryptionConfigurations to "
            "encryptionType KMS with kmsKey = the stack's customer-managed key"
        )


def _lifecycle_policy(stack: Stack) -> Iterable[tuple[str, str]]:
    covered = {str(p.get("repository")) for p in stack.of_type(LIFECYCLE_POLICY)}
    for repository in stack.of_type(REPOSITORY):
        name = repository.get("name")
        if isinstance(name, str) and name not in covered:
            yield (
                repository.urn,
                "no lifecycle policy expires old images, so the repository (and its scan "
                "findings) grow forever: declare an aws.ecr.LifecyclePolicy for it",
            )


def _not_public(resource: Resource, stack: Stack) -> Iterable[str]:
    if resource.type == PUBLIC_REPOSITORY:
        yield "an ECR Public repository serves its images to anyone: use a private repository"
        return
    for where in public_allows(resource.get("policy")):
        yield (
            f'repository policy {where} allows any principal ("*") without a condition: '
            "name the accounts or roles that pull, or add a condition such as "
            "aws:PrincipalOrgID"
        )


_REPOSITORY = frozenset({REPOSITORY})

RULES: list[Rule] = [
    Rule(
        name="ecr-immutable-tags",
        service="ECR",
        description="Image tags are immutable.",
        types=_REPOSITORY,
        check=_immutable_tags,
    ),
    Rule(
        name="ecr-scan-on-push",
        service="ECR",
        description="Images are scanned on push.",
        types=_REPOSITORY,
        check=_scan_on_push,
    ),
    Rule(
        name="ecr-kms-encryption",
        service="ECR",
        description="Repositories are encrypted with a customer-managed KMS key.",
        types=_REPOSITORY,
        check=_kms_encryption,
    ),
    Rule(
        name="ecr-lifecycle-policy",
        service="ECR",
        description="Every repository has a lifecycle policy.",
        stack_check=_lifecycle_policy,
    ),
    Rule(
        name="ecr-not-public",
        service="ECR",
        description="No public repository, and no repository policy allowing * without a "
        "condition.",
        types=frozenset({REPOSITORY_POLICY, PUBLIC_REPOSITORY}),
        check=_not_public,
    ),
]
