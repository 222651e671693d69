"""Teardown: an ephemeral (pr-<n>) stack must go away with `pulumi destroy` alone, so nothing
in it is protected or retained, and nothing refuses deletion because it still holds data.
These rules are mandatory on ephemeral stacks and off elsewhere (TEARDOWN_LEVELS): the same
settings are what keeps prod's data safe."""

from __future__ import annotations

from collections.abc import Iterable

from platform_rules.model import TEARDOWN_LEVELS, Resource, Rule, Stack

BUCKETS = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
DATABASES = frozenset({"aws:rds/instance:Instance", "aws:rds/cluster:Cluster"})
REPOSITORY = "aws:ecr/repository:Repository"


def _nothing_protected(stack: Stack) -> Iterable[tuple[str, str]]:
    for resource in stack.resources:
        if resource.protect:
            yield (
                resource.urn,
                "protected: `pulumi destroy` of the ephemeral stack stops here; do not set "
                "protect on ephemeral stacks (the tier's `protect` default)",
            )
        if resource.retain_on_delete:
            yield (
                resource.urn,
                "retained on delete: it would outlive the ephemeral stack and keep costing; do "
                "not set retainOnDelete on ephemeral stacks",
            )


def _bucket_force_destroy(resource: Resource, stack: Stack) -> Iterable[str]:
    if resource.get("forceDestroy") is not True:
        yield (
            "the bucket cannot be deleted while it holds objects, so destroy fails: set "
            "forceDestroy = true on ephemeral stacks"
        )


def _database_deletable(resource: Resource, stack: Stack) -> Iterable[str]:
    if resource.get("deletionProtection") is True:
        yield "deletion protection blocks destroy: set deletionProtection = false"
    if resource.get("skipFinalSnapshot") is not True:
        yield (
            "destroy would leave a final snapshot behind (kept and billed after the stack is "
            "gone): set skipFinalSnapshot = true"
        )


def _repository_force_delete(resource: Resource, stack: Stack) -> Iterable[str]:
    if resource.get("forceDelete") is not True:
        yield (
            "the repository cannot be deleted while it holds images, so destroy fails: set "
            "forceDelete = true on ephemeral stacks"
        )


RULES: list[Rule] = [
    Rule(
        name="teardown-nothing-protected",
        service="Teardown",
        description="Ephemeral stacks protect and retain nothing.",
        levels=TEARDOWN_LEVELS,
        stack_check=_nothing_protected,
    ),
    Rule(
        name="teardown-buckets-force-destroy",
        service="Teardown",
        description="Ephemeral stacks' buckets are force-destroyable.",
        levels=TEARDOWN_LEVELS,
        types=BUCKETS,
        check=_bucket_force_destroy,
    ),
    Rule(
        name="teardown-rds-deletable",
        service="Teardown",
        description="Ephemeral stacks' databases have no deletion protection and skip the "
        "final snapshot.",
        levels=TEARDOWN_LEVELS,
        types=DATABASES,
        check=_database_deletable,
    ),
    Rule(
        name="teardown-ecr-force-delete",
        service="Teardown",
        description="Ephemeral stacks' ECR repositories are force-deletable.",
        levels=TEARDOWN_LEVELS,
        types=frozenset({REPOSITORY}),
        check=_repository_force_delete,
    ),
]
