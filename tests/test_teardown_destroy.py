"""`destroy_stack` (airflow_platform.teardown.destroy): refuses every tier but ephemeral
before touching anything; runs the phases in order with a wait for AWS after each, on a
stand-in backend and stand-in AWS clients; audits, repeating while leftovers remain, and
fails listing the orphans."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from airflow_platform.config.model import Tier
from airflow_platform.teardown.audit import AuditReport, AuditTarget, Leftover
from airflow_platform.teardown.destroy import (
    DestroyError,
    DestroyRefusedError,
    Timing,
    destroy_stack,
)
from tests.teardown_standin import InMemoryBackend
from tests.test_teardown_order import EKS_TYPES, MWAA_TYPES

TARGET = AuditTarget("airflow-platform", "pr-7", "123456789012", ("eu-west-1",))
CLEAN = AuditReport(TARGET, ())
ORPHAN = Leftover("eu-west-1", "logs:log-group", "/aws/lambda/airflow-pr-7-x", "name")
TIMING = Timing(settle_timeout=600, audit_timeout=300, interval=30)
PENDING = Leftover("eu-west-1", "kms:key", "arn:aws:kms:eu-west-1:1:key/k", "tag", True)


class Clock:
    """A clock that moves only when slept on."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FakeAws:
    """EC2 and ELBv2 answering the settle checks from `volumes` (id -> state), logging each
    poll into the backend's call log so the order is visible."""

    def __init__(self, log: list[tuple[Any, ...]], volumes: Callable[[], dict[str, str]]):
        self.log = log
        self.volumes = volumes

    def __call__(self, service: str, region: str) -> Any:
        return self

    def get_paginator(self, operation: str) -> Any:
        fake = self

        class Paginator:
            def paginate(self, **_: Any) -> list[dict[str, Any]]:
                fake.log.append(("poll", operation))
                return [fake.page(operation)]

        return Paginator()

    def page(self, operation: str) -> dict[str, Any]:
        if operation == "describe_volumes":
            return {"Volumes": [{"VolumeId": k, "State": s} for k, s in self.volumes().items()]}
        return {
            "describe_load_balancers": {"LoadBalancers": []},
            "describe_target_groups": {"TargetGroups": []},
            "describe_instances": {"Reservations": []},
            "describe_network_interfaces": {"NetworkInterfaces": []},
        }[operation]

    def describe_tags(self, ResourceArns: list[str]) -> dict[str, Any]:  # noqa: N803 - boto's
        return {"TagDescriptions": []}


def run(
    backend: InMemoryBackend,
    tier: Tier = Tier.EPHEMERAL,
    audit: Callable[[], AuditReport] = lambda: CLEAN,
    volumes: Callable[[], dict[str, str]] = dict,
    timing: Timing = TIMING,
    clock: Clock | None = None,
) -> Any:
    clock = clock or Clock()
    return destroy_stack(
        "pr-7",
        tier,
        backend,
        FakeAws(backend.calls, volumes),
        audit,
        project="airflow-platform",
        region="eu-west-1",
        timing=timing,
        clock=clock,
        sleep=clock.sleep,
    )


def eks_backend() -> InMemoryBackend:
    backend = InMemoryBackend()
    backend.add("pr-7", EKS_TYPES, vpcId="vpc-1", expiresAt="2026-03-01T00:00:00Z")
    return backend


@pytest.mark.parametrize("tier", [Tier.DEV, Tier.STAGING, Tier.PROD])
def test_destroy_refuses_a_stack_when_its_tier_is_not_ephemeral(tier: Tier) -> None:
    backend = eks_backend()

    with pytest.raises(DestroyRefusedError, match=f"is a {tier.value} stack") as refused:
        run(backend, tier=tier)

    assert "pulumi destroy" in str(refused.value)
    assert backend.calls == []


def test_destroy_runs_in_cluster_then_interface_holders_then_the_rest_with_waits_between() -> None:
    backend = eks_backend()

    result = run(backend)

    steps = [call[0] if call[0] != "destroy" else call for call in backend.calls]
    destroys = [i for i, step in enumerate(steps) if isinstance(step, tuple)]
    assert len(destroys) == 3
    first, second, last = (steps[i] for i in destroys)
    assert first[2] is not None
    assert all("::kubernetes:" in t for t in first[2])
    assert second[2] is not None
    assert any("aws:eks/cluster:Cluster" in t for t in second[2])
    assert last[2] is None
    # AWS polled after each of the first two phases, before the next one starts
    assert "poll" in steps[destroys[0] : destroys[1]]
    assert "poll" in steps[destroys[1] : destroys[2]]
    assert "poll" not in steps[destroys[2] :]
    assert result.phases[0].name == "in-cluster objects"
    assert backend.resources_of["pr-7"] == []


def test_destroy_of_an_mwaa_stack_starts_with_the_network_interface_holders() -> None:
    backend = InMemoryBackend()
    backend.add("pr-7", MWAA_TYPES, vpcId="vpc-1")

    run(backend)

    first = next(call for call in backend.calls if call[0] == "destroy")
    assert sorted(t.split("::")[-2] for t in first[2]) == [
        "aws:lambda/function:Function",
        "aws:mwaa/environment:Environment",
        "aws:rds/instance:Instance",
    ]


def test_destroy_waits_until_the_cluster_volumes_are_gone_before_the_next_phase() -> None:
    backend = eks_backend()
    clock = Clock()

    def volumes() -> dict[str, str]:  # deleted by AWS 90 s after the first poll
        return {"vol-1": "deleting"} if clock.now < 90 else {"vol-1": "deleted"}

    result = run(backend, volumes=volumes, clock=clock)

    assert clock.now >= 90
    assert result.audit is CLEAN


def test_destroy_fails_naming_what_is_left_when_the_wait_times_out() -> None:
    backend = eks_backend()

    with pytest.raises(DestroyError, match=r"after phase 1 .*EBS volume \(claim\) vol-9"):
        run(backend, volumes=lambda: {"vol-9": "in-use"})

    assert [c for c in backend.calls if c[0] == "destroy"][1:] == []


def test_destroy_stops_at_the_phase_that_fails() -> None:
    backend = eks_backend()
    backend.fail_destroy.add("pr-7")

    with pytest.raises(DestroyError, match=r"phase 1 \(in-cluster objects\) failed"):
        run(backend)

    assert len([c for c in backend.calls if c[0] == "destroy"]) == 1


def test_destroy_asks_the_audit_again_while_leftovers_remain_then_succeeds() -> None:
    reports = iter([AuditReport(TARGET, (ORPHAN,)), CLEAN])
    asked: list[AuditReport] = []

    def audit() -> AuditReport:
        asked.append(next(reports))
        return asked[-1]

    result = run(eks_backend(), audit=audit)

    assert len(asked) == 2
    assert result.audit is CLEAN


def test_destroy_fails_listing_the_orphans_when_they_outlast_the_audit_timeout() -> None:
    report = AuditReport(TARGET, (ORPHAN, PENDING))

    with pytest.raises(DestroyError, match="orphans") as failed:
        run(eks_backend(), audit=lambda: report)

    assert ORPHAN.identifier in str(failed.value)
    assert PENDING.identifier not in str(failed.value)


def test_destroy_succeeds_when_only_pending_deletion_leftovers_remain() -> None:
    report = AuditReport(TARGET, (PENDING,))

    result = run(eks_backend(), audit=lambda: report)

    assert result.audit is report


def test_destroy_fails_when_the_audit_cannot_run() -> None:
    def audit() -> AuditReport:
        raise RuntimeError("AccessDenied on tag:GetResources")

    with pytest.raises(DestroyError, match="audit could not run: AccessDenied"):
        run(eks_backend(), audit=audit)
